/**
 * A small block-YAML emitter for plain, JSON-like data (objects, arrays, strings, finite numbers,
 * booleans, null). It exists for speed: a 511-cluster mesh has 260 610 peer entries, and a general
 * YAML library spends seconds building and printing nodes for them. Output parses back, with the
 * `yaml` library (YAML 1.2) and with Helm's YAML 1.1 reader, to the same value: any string that
 * could be read as something else is written JSON-escaped in double quotes, which is valid YAML.
 */

export type Plain = string | number | boolean | null | Plain[] | { [key: string]: Plain };

/** Plain scalars that a YAML 1.1 or 1.2 reader would turn into a bool or null. */
const KEYWORDS = new Set(
  ['y', 'yes', 'n', 'no', 'true', 'false', 'on', 'off', 'null', '~'].flatMap((w) => [
    w,
    w.toUpperCase(),
    w[0]!.toUpperCase() + w.slice(1),
  ]),
);
/** Starts with a letter, then only characters that never start a YAML indicator mid-scalar. */
const PLAIN_WORD = /^[A-Za-z][A-Za-z0-9_./+=-]*$/;
/** Dotted IPv4 (optionally a CIDR): never a number in YAML 1.1 or 1.2, and nicer unquoted. */
const PLAIN_IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(\/\d{1,2})?$/;

/** True when `s` can be written as a plain scalar and reads back as the same string. */
export function isPlainSafe(s: string): boolean {
  return (PLAIN_WORD.test(s) && !KEYWORDS.has(s)) || PLAIN_IPV4.test(s);
}

/** A string as a YAML scalar: plain when unambiguous, else a JSON (= YAML) double-quoted string. */
export function scalarString(s: string): string {
  if (isPlainSafe(s)) return s;
  // JSON leaves a few characters raw that YAML does not allow unescaped in a stream (DEL, C1
  // controls, BOM, non-characters) or that YAML 1.1 reads as line breaks (U+2028/2029).
  return JSON.stringify(s).replace(NOT_YAML_PRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
const NOT_YAML_PRINTABLE = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;
/** YAML limits implicit keys to 1024 characters; meshform's keys are short names. */
const MAX_KEY = 1000;

function scalar(v: string | number | boolean | null): string {
  if (typeof v === 'string') return scalarString(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`cannot emit non-finite number ${v}`);
    // -0 would print as 0 and read back as 0; JSON has the same rule, so plain data never holds it.
    return String(v);
  }
  if (v === null) return 'null';
  return v ? 'true' : 'false';
}

function isObject(v: Plain): v is { [key: string]: Plain } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmptyCollection(v: Plain): boolean {
  return Array.isArray(v) ? v.length === 0 : isObject(v) && Object.keys(v).length === 0;
}

function inline(v: Plain): string {
  if (Array.isArray(v)) return '[]';
  if (isObject(v)) return '{}';
  return scalar(v);
}

/**
 * Appends `value` (a mapping or sequence) to `out` as block YAML whose top level sits at `indent`
 * spaces. Every line ends with `\n`.
 */
export function emitBlock(value: Plain, indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    for (const item of value) emitItem(item, pad, indent, out);
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) emitEntry(key, value[key]!, pad, indent, out);
  } else {
    throw new TypeError('emitBlock needs a mapping or a sequence');
  }
}

function emitEntry(key: string, v: Plain, pad: string, indent: number, out: string[]): void {
  const k = scalarString(key);
  if (k.length > MAX_KEY) throw new TypeError(`cannot emit a mapping key longer than ${MAX_KEY} characters`);
  if (typeof v !== 'object' || v === null || isEmptyCollection(v)) {
    out.push(`${pad}${k}: ${inline(v)}\n`);
  } else {
    out.push(`${pad}${k}:\n`);
    emitBlock(v, indent + 2, out);
  }
}

function emitItem(v: Plain, pad: string, indent: number, out: string[]): void {
  if (typeof v !== 'object' || v === null || isEmptyCollection(v)) {
    out.push(`${pad}- ${inline(v)}\n`);
    return;
  }
  // The first line of a nested collection shares the line with the dash: "- key: v" / "- - x".
  const nested: string[] = [];
  emitBlock(v, indent + 2, nested);
  const first = nested[0]!;
  out.push(`${pad}- ${first.slice(indent + 2)}`);
  for (let i = 1; i < nested.length; i++) out.push(nested[i]!);
}

/** `value` as a block YAML document body (a mapping or sequence), or an inline `{}` / `[]` / scalar. */
export function emitYaml(value: Plain, indent = 0): string {
  if (typeof value !== 'object' || value === null || isEmptyCollection(value)) {
    return `${' '.repeat(indent)}${inline(value)}\n`;
  }
  const out: string[] = [];
  emitBlock(value, indent, out);
  return out.join('');
}

/** Prefixes every non-empty line of `text` with `pad`. */
export function indentLines(text: string, pad: string): string {
  return text.replace(/^(?=.)/gm, pad);
}

/**
 * `value` as one line of flow YAML (`{name: a, ips: [192.0.2.1], port: 2379}`). Plain scalars here
 * never contain flow indicators (`,[]{}`): anything else is double-quoted.
 */
export function emitFlow(value: Plain): string {
  if (Array.isArray(value)) return `[${value.map(emitFlow).join(', ')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value);
    return `{${keys.map((k) => `${flowKey(k)}: ${emitFlow(value[k]!)}`).join(', ')}}`;
  }
  return scalar(value);
}

function flowKey(key: string): string {
  const k = scalarString(key);
  if (k.length > MAX_KEY) throw new TypeError(`cannot emit a mapping key longer than ${MAX_KEY} characters`);
  return k;
}
