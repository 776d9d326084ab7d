/** The POSIX character classes of extended regular expressions, which JavaScript lacks. */
const POSIX_CLASSES: Record<string, string> = {
  alnum: 'A-Za-z0-9',
  alpha: 'A-Za-z',
  blank: ' \\t',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: ' \\t\\n\\r\\f\\v',
  upper: 'A-Z',
  xdigit: '0-9A-Fa-f',
};

export class JobFilterError extends Error {}

/**
 * Compiles `jobs REGEX` (regex(7) extended syntax, searched anywhere in the
 * job name like `grep -E`). JavaScript's syntax is a superset of ERE apart
 * from the `[[:class:]]` bracket classes, which are translated.
 */
export function compileJobFilter(pattern: string): RegExp {
  let unknownClass: string | undefined;
  const translated = pattern.replace(/\[:([a-z]+):\]/g, (whole, name: string) => {
    const range = POSIX_CLASSES[name];
    if (range === undefined) unknownClass ??= whole;
    return range ?? whole;
  });
  if (unknownClass) throw new JobFilterError(`invalid regular expression "${pattern}": unknown character class ${unknownClass}`);
  try {
    return new RegExp(translated);
  } catch (err) {
    // "Invalid regular expression: /x(/: Unterminated group" → "unterminated group"
    const reason = (err as Error).message.replace(/^.*: /, '');
    throw new JobFilterError(`invalid regular expression "${pattern}": ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`);
  }
}
