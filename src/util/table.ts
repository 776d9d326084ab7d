export type Alignment = 'left' | 'right';

/**
 * The ASCII tables of the manual: `+---+` rules above and below the header
 * and at the bottom, one space of padding, right-aligned numeric columns
 * (the header follows its column's alignment).
 *
 * Written out rather than with a table library: the telnet shell renders
 * 1,000-job tables inside the scheduler's event loop, where cli-table3 took
 * about a second per table and this takes milliseconds.
 */
export function renderTable(head: string[], rows: string[][], align: Alignment[]): string {
  const lines = [head, ...rows].map((row) => head.map((_, i) => oneLine(row[i] ?? '')));
  // Not Math.max(...): spreading 200,000 rows (an hourly job of 23 years) overflows the stack.
  const widths = head.map((_, i) => lines.reduce((max, cells) => Math.max(max, displayWidth(cells[i])), 0));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const render = (cells: string[]) =>
    `|${cells
      .map((cell, i) => {
        const fill = ' '.repeat(widths[i] - displayWidth(cell));
        return ` ${align[i] === 'right' ? fill + cell : cell + fill} `;
      })
      .join('|')}|`;
  const [header, ...body] = lines;
  // Without rows the bottom rule follows the header's rule, as backy 2.x's tables print it.
  return [rule, render(header), rule, ...body.map(render), rule].join('\n');
}

const CONTROL = /[\r\n\t]/;
const PLAIN = /^[\x20-\x7e]*$/;

function oneLine(cell: string): string {
  return CONTROL.test(cell) ? cell.replace(/[\r\n\t]/g, ' ') : cell;
}

/** Terminal columns a string takes: East Asian wide characters count two, combining marks none. */
export function displayWidth(text: string): number {
  // Nearly every cell is plain ASCII: one character, one column (a 10,000-row status table).
  if (PLAIN.test(text)) return text.length;
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if ((code >= 0x300 && code <= 0x36f) || code === 0x200b) continue;
    width += isWide(code) ? 2 : 1;
  }
  return width;
}

function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x1f900 && code <= 0x1f9ff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  );
}
