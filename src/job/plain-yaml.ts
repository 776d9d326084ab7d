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

/** Splits `key: rest` (or `key:`); undefined where the line is no such pair. */
function pair(line: string): [string, string] | undefined {
  const colon = line.indexOf(':');
  if (colon <= 0) return undefined;
  const key = line.slice(0, colon);
  if (!KEY.test(key)) return undefined;
  if (colon + 1 === line.length) return [key, ''];
  if (line[colon + 1] !== ' ') return undefined;
  return [key, line.slice(colon + 2).trim()];
}

/**
 * The mapping a `.rev` file's text holds, or undefined where it is not
 * written in the plain subset (the caller then asks js-yaml).
 */
export function parsePlainMapping(text: string): Record<string, Value> | undefined {
  // Printable ASCII only: JavaScript's trim() takes Unicode spaces, \v and \f for whitespace, YAML does not.
  if (!/^[\x20-\x7e\n]*$/.test(text) || text.includes('#')) return undefined;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  // An empty document is no mapping at all.
  if (lines.length === 0) return undefined;
  const result: Record<string, Value> = {};
  let index = 0;
  while (index < lines.length) {
    const line = lines[index]!;
    const entry = line[0] === ' ' ? undefined : pair(line);
    if (!entry || Object.hasOwn(result, entry[0])) return undefined;
    const [key, rest] = entry;
    index++;
    if (rest !== '') {
      const parsed = value(rest);
      if (parsed === NOT_PLAIN) return undefined;
      result[key] = parsed;
      continue;
    }
    // A block below the key: indented `key: value` pairs, or `- item`s (indented, or at the key's own column as PyYAML writes them).
    const block: string[] = [];
    while (index < lines.length && (lines[index]![0] === ' ' || lines[index]!.startsWith('- ') || lines[index] === '-')) block.push(lines[index++]!);
    if (block.length === 0) {
      result[key] = null;
      continue;
    }
    const indent = block[0]!.length - block[0]!.trimStart().length;
    if (block.some((item) => item.length - item.trimStart().length !== indent || item.trim() === '')) return undefined;
    const items = block.map((item) => item.slice(indent));
    if (items[0]!.startsWith('-')) {
      const list: Scalar[] = [];
      for (const item of items) {
        if (item !== '-' && !item.startsWith('- ')) return undefined;
        const parsed = scalar(item.slice(1).trim(), false);
        if (parsed === NOT_PLAIN || (item.slice(2).trim() !== '' && item.slice(2).trimStart() !== item.slice(2))) return undefined;
        list.push(parsed);
      }
      result[key] = list;
    } else {
      if (indent === 0) return undefined;
      const mapping: Record<string, Scalar> = {};
      for (const item of items) {
        const inner = pair(item);
        if (!inner || Object.hasOwn(mapping, inner[0]) || inner[1].startsWith('[') || inner[1].startsWith('{')) return undefined;
        const parsed = inner[1] === '' ? null : scalar(inner[1], false);
        if (parsed === NOT_PLAIN) return undefined;
        mapping[inner[0]] = parsed;
      }
      result[key] = mapping;
    }
  }
  return result;
}
