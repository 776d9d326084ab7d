import Table from 'cli-table3';

export type Alignment = 'left' | 'right';

/**
 * The ASCII tables of the manual: `+---+` rules above and below the header
 * and at the bottom, one space of padding, right-aligned numeric columns.
 */
export function renderTable(head: string[], rows: string[][], align: Alignment[]): string {
  const table = new Table({
    head,
    colAligns: align,
    style: { head: [], border: [], 'padding-left': 1, 'padding-right': 1, compact: true },
    chars: {
      top: '-', 'top-mid': '+', 'top-left': '+', 'top-right': '+',
      bottom: '-', 'bottom-mid': '+', 'bottom-left': '+', 'bottom-right': '+',
      left: '|', 'left-mid': '+', mid: '-', 'mid-mid': '+',
      right: '|', 'right-mid': '+', middle: '|',
    },
  });
  table.push(...rows);
  return table.toString();
}
