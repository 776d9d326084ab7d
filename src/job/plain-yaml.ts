/**
 * The YAML that `.rev` files are written in, read without a YAML library:
 * `status` reads 10,000 of them per run, and js-yaml takes a third of that
 * time. Only the plain subset that backy and backy 2.x write is taken —
 * top-level `key: value` lines, one level of block mapping or sequence
 * below a key, flow lists and mappings of plain scalars, empty or simple
 * quoted strings. For anything else (comments, anchors, multi-line or
 * escaped strings, scalars whose type is not obvious) the answer is
 * undefined and the caller parses the text with js-yaml instead: the fast
 * path never decides a question the full parser would decide differently
 * (the unit test holds it to js-yaml's CORE_SCHEMA results).
 */

type Scalar = string | number | boolean | null;
type Value = Scalar | Scalar[] | Record<string, Scalar>;

/** Not the subset: the caller falls back to the full parser. */
const NOT_PLAIN = Symbol('not plain');

/** Not the spellings js-yaml reads as another key (`TRUE` is `true`), nor `__proto__`, which an object literal would not keep as a key. */
const KEY = /^(?!(?:__proto__|null|Null|NULL|true|True|TRUE|false|False|FALSE)$)[A-Za-z_][A-Za-z0-9_]*$/;
/** Characters a plain scalar may hold here; YAML's indicators and whitespace other than a space are left to the full parser. */
const PLAIN_TEXT = /^[A-Za-z0-9_/][A-Za-z0-9_./:+ -]*$/;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/;
/** Digits-first text that js-yaml might read as a number in a form NUMBER does not take (`1_000`, `0x1f`, `1.`, `01`). */
const NUMERIC_LOOKING = /^(?:[0-9_.eE+-]*|0[xXoObB].*)$/;
const NULLS = new Set(['null', 'Null', 'NULL', '~']);
const BOOLEANS = new Map([
  ['true', true],
  ['True', true],
  ['TRUE', true],
  ['false', false],
  ['False', false],
  ['FALSE', false],
]);

function scalar(token: string, inFlow: boolean): Scalar | typeof NOT_PLAIN {
  if (token === '' || NULLS.has(token)) return null;
  const quote = token[0];
  if (quote === "'" || quote === '"') {
    const inner = token.slice(1, -1);
    // No escapes, no doubled quotes, no characters a flow list would split at.
    if (token.length < 2 || token[token.length - 1] !== quote || /['"\\]/.test(inner) || !/^[\x20-\x7e]*$/.test(inner)) return NOT_PLAIN;
    if (inFlow && /[,[\]{}]/.test(inner)) return NOT_PLAIN;
    return inner;
  }
  if (!PLAIN_TEXT.test(token) || token.endsWith(' ') || token.includes(': ') || token.endsWith(':') || (inFlow && token.includes(':'))) return NOT_PLAIN;
  if (NUMBER.test(token)) return Number(token);
  const boolean = BOOLEANS.get(token);
  if (boolean !== undefined) return boolean;
  const first = token.charCodeAt(0);
  if (first >= 0x30 && first <= 0x39 && NUMERIC_LOOKING.test(token)) return NOT_PLAIN;
  return token;
}

/** `[a, b]` or `{k: v, ...}` of plain scalars, on one line. */
function flow(text: string): Value | typeof NOT_PLAIN {
  const open = text[0];
  const close = open === '[' ? ']' : '}';
  if (text[text.length - 1] !== close) return NOT_PLAIN;
  const body = text.slice(1, -1).trim();
  const items = body === '' ? [] : body.split(',').map((item) => item.trim());
  if (open === '[') {
    const list: Scalar[] = [];
    for (const item of items) {
      if (item === '') return NOT_PLAIN;
      const value = scalar(item, true);
      if (value === NOT_PLAIN) return NOT_PLAIN;
      list.push(value);
    }
    return list;
  }
  const mapping: Record<string, Scalar> = {};
  for (const item of items) {
    const colon = item.indexOf(':');
    const key = colon < 0 ? '' : item.slice(0, colon);
    if (!KEY.test(key) || Object.hasOwn(mapping, key) || (item.length > colon + 1 && item[colon + 1] !== ' ')) return NOT_PLAIN;
    const value = scalar(item.slice(colon + 1).trim(), true);
    if (value === NOT_PLAIN) return NOT_PLAIN;
    mapping[key] = value;
  }
  return mapping;
}

function value(text: string): Value | typeof NOT_PLAIN {
  return text[0] === '[' || text[0] === '{' ? flow(text) : scalar(text, false);
}

/** Where `key: rest` (or `key:`) splits the line text[start, end); -1 where the line is no such pair. */
function colonOf(text: string, start: number, end: number): number {
  const colon = text.indexOf(':', start);
  if (colon <= start || colon >= end) return -1;
  if (colon + 1 < end && text.charCodeAt(colon + 1) !== SPACE) return -1;
  return colon;
}

/** The value after a pair's colon, without its surrounding spaces. */
function restOf(text: string, colon: number, end: number): string {
  return colon + 1 >= end ? '' : text.slice(colon + 2, end).trim();
}

const SPACE = 0x20;
const DASH = 0x2d;

/** Leading spaces of the line starting at `start`. */
function indentOf(text: string, start: number, end: number): number {
  let at = start;
  while (at < end && text.charCodeAt(at) === SPACE) at++;
  return at - start;
}

/**
 * The mapping a `.rev` file's text holds, or undefined where it is not
 * written in the plain subset (the caller then asks js-yaml). Scanned in
 * place, line by line, without splitting the text: `status` reads 10,000
 * of these once each, so the first, unoptimised run is the one that counts.
 */
export function parsePlainMapping(text: string): Record<string, Value> | undefined {
  // Printable ASCII only: JavaScript's trim() takes Unicode spaces, \v and \f for whitespace, YAML does not.
  if (!/^[\x20-\x7e\n]*$/.test(text) || text.includes('#')) return undefined;
  // The lines are those of the text without its one final newline; an empty document is no mapping at all.
  const end = text.length > 0 && text.charCodeAt(text.length - 1) === 0x0a ? text.length - 1 : text.length;
  if (text.length === 0) return undefined;
  const result: Record<string, Value> = {};
  let start = 0;
  let lineEnd = nextLineEnd(text, start, end);
  for (;;) {
    if (text.charCodeAt(start) === SPACE) return undefined;
    const colon = colonOf(text, start, lineEnd);
    if (colon < 0) return undefined;
    const key = text.slice(start, colon);
    if (!KEY.test(key) || Object.hasOwn(result, key)) return undefined;
    const rest = restOf(text, colon, lineEnd);
    if (lineEnd === end) {
      if (rest === '') result[key] = null;
      else if (!assign(result, key, value(rest))) return undefined;
      return result;
    }
    start = lineEnd + 1;
    lineEnd = nextLineEnd(text, start, end);
    if (rest !== '') {
      if (!assign(result, key, value(rest))) return undefined;
      continue;
    }
    // A block below the key: indented `key: value` pairs, or `- item`s (indented, or at the key's own column as PyYAML writes them).
    if (!inBlock(text, start, lineEnd)) {
      result[key] = null;
      continue;
    }
    const indent = indentOf(text, start, lineEnd);
    const isList = text.charCodeAt(start + indent) === DASH;
    if (!isList && indent === 0) return undefined;
    const list: Scalar[] = [];
    const mapping: Record<string, Scalar> = {};
    for (;;) {
      const item = start + indent;
      // Every line of the block at the first one's indent, none blank.
      if (indentOf(text, start, lineEnd) !== indent || item === lineEnd) return undefined;
      if (isList) {
        const token = text.slice(item, lineEnd);
        if (token !== '-' && !token.startsWith('- ')) return undefined;
        const parsed = scalar(token.slice(1).trim(), false);
        if (parsed === NOT_PLAIN || (token.length > 2 && token.charCodeAt(2) === SPACE && token.slice(2).trim() !== '')) return undefined;
        list.push(parsed);
      } else {
        const innerColon = colonOf(text, item, lineEnd);
        if (innerColon < 0) return undefined;
        const innerKey = text.slice(item, innerColon);
        const innerRest = restOf(text, innerColon, lineEnd);
        if (!KEY.test(innerKey) || Object.hasOwn(mapping, innerKey) || innerRest.startsWith('[') || innerRest.startsWith('{')) return undefined;
        const parsed = innerRest === '' ? null : scalar(innerRest, false);
        if (parsed === NOT_PLAIN) return undefined;
        mapping[innerKey] = parsed;
      }
      if (lineEnd === end) {
        result[key] = isList ? list : mapping;
        return result;
      }
      start = lineEnd + 1;
      lineEnd = nextLineEnd(text, start, end);
      if (!inBlock(text, start, lineEnd)) break;
    }
    result[key] = isList ? list : mapping;
  }
}

function nextLineEnd(text: string, start: number, end: number): number {
  const newline = text.indexOf('\n', start);
  return newline < 0 || newline > end ? end : newline;
}

/** Whether the line text[start, end) continues a block: indented, or a `- item` at the key's column. */
function inBlock(text: string, start: number, end: number): boolean {
  const first = text.charCodeAt(start);
  return start < end && (first === SPACE || (first === DASH && (end === start + 1 || text.charCodeAt(start + 1) === SPACE)));
}

function assign(result: Record<string, Value>, key: string, parsed: Value | typeof NOT_PLAIN): boolean {
  if (parsed === NOT_PLAIN) return false;
  result[key] = parsed;
  return true;
}
