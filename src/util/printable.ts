/**
 * Text from outside backy (a hook's output, tags from `.rev` files, which
 * anyone may edit) as it may appear in a log line or on a terminal: control
 * characters escaped, so that a line break or carriage return cannot forge
 * or hide a line of the log, nor an escape sequence rewrite the screen.
 */
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

// eslint-disable-next-line no-control-regex -- control characters are what this finds
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
