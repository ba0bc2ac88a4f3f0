/**
 * The fast reader for plain YAML: the data of a spec, values or facts file whose text keeps to the
 * plain subset (block and one-line flow collections, plain and quoted one-line scalars, block scalars
 * without an indentation indicator, comments), read with `js-yaml`, about ten times faster than the
 * `yaml` library's Document parser, which a command runs only when it needs the document itself
 * (comments, positions). Anything outside the subset takes that full parser ({@link parseYamlText}).
 *
 * Both must read a text alike. Plain scalars resolve through the `yaml` library's own YAML 1.2 core
 * schema tags (their tests and constructors, in their order), so `0o17`, `~`, `.inf` or `012` mean
 * the same to both. Where the two parsers are known to differ the text is left to the full parser:
 * anchors, aliases, tags, directives, several documents, complex (`?`) and collection keys, keys
 * spelled like null, tabs, CR, quoted scalars and flow collections over several lines, a comment
 * touching a quote or bracket, compact nested sequences, block scalar indentation indicators, a
 * dedent to a column no enclosing line has, lines over 1,000 characters, and anything `js-yaml`
 * refuses. test/spec/plain-yaml.test.ts checks the agreement on generated texts, and the document
 * built later from the same text is compared against this data ({@link parseYamlText}).
 */
import jsyaml from 'js-yaml';
import { Schema, isScalar, type ScalarTag } from 'yaml';

/** `yaml`'s core schema tags as `js-yaml` implicit types (own tag names: no explicit tag is read here). */
const SCHEMA = jsyaml.FAILSAFE_SCHEMA.extend({
  implicit: new Schema({ schema: 'core' }).tags.flatMap((t, i) => {
    const tag = t as ScalarTag;
    if (!tag.test || !tag.resolve) return [];
    const test = tag.test;
    return [
      new jsyaml.Type(`tag:meshform,2026:core-${i}`, {
        kind: 'scalar',
        resolve: (s: unknown) => typeof s === 'string' && test.test(s),
        construct: (s: string) => {
          const v = tag.resolve(s, () => undefined, {});
          return isScalar(v) ? v.value : v;
        },
      }),
    ];
  }),
});

/** Features the fast reader leaves to the full parser, found by one scan of the text. */
const OUTSIDE = /[|>][-+]?[0-9]|[\t\r\0]|^%|^ *\?(?: |$)|__proto__|^(?:---|\.\.\.)|[\]}] *:(?: |$)|["'\]}]#|^ *- +-(?: |$)/m;
const MAX_LINE = 1000;
const NULL_KEY = /^(?:~|[Nn]ull|NULL)$/;

/**
 * Whether `text` keeps to the plain subset line by line: no anchor, alias or tag character (`&*!`)
 * outside quotes and comments, no quoted scalar or flow collection goes on over a line end, no line is longer than {@link MAX_LINE}, and every line's indentation is deeper
 * than the line before or equal to one of the lines enclosing it.
 */
function plainLines(text: string): boolean {
  let dq = false;
  let sq = false;
  let depth = 0;
  let start = 0;
  let atStart = true;
  const levels = [-1];
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 10;
    if (c === 10) {
      if (dq || sq || depth !== 0 || i - start > MAX_LINE) return false;
      start = i + 1;
      atStart = true;
      continue;
    }
    if (atStart) {
      if (c === 32) continue;
      atStart = false;
      if (c !== 35) {
        const indent = i - start;
        if (indent > levels[levels.length - 1]!) levels.push(indent);
        else {
          while (indent < levels[levels.length - 1]!) levels.pop();
          if (indent !== levels[levels.length - 1]) return false;
        }
      }
    }
    if (dq) {
      if (c === 92) i++;
      else if (c === 34) dq = false;
      continue;
    }
    if (sq) {
      if (c === 39) {
        if (text.charCodeAt(i + 1) === 39) i++;
        else sq = false;
      }
      continue;
    }
    if (c === 35 && (i === start || text.charCodeAt(i - 1) === 32)) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl - 1;
      continue;
    }
    // Anchors, aliases and tags (outside quotes and comments: `&` in a comment or "a&b" is text).
    if (c === 38 || c === 42 || c === 33) return false;
    if (c === 34) dq = true;
    else if (c === 39) sq = true;
    else if (c === 91 || c === 123) depth++;
    else if (c === 93 || c === 125) depth--;
  }
  return true;
}

/** A key the two parsers turn into different strings (`null:` is "" to `yaml`, "null" to `js-yaml`). */
function hasNullKey(data: unknown): boolean {
  if (Array.isArray(data)) return data.some(hasNullKey);
  if (data === null || typeof data !== 'object') return false;
  for (const [k, v] of Object.entries(data)) if (NULL_KEY.test(k) || hasNullKey(v)) return true;
  return false;
}

/**
 * The data of `text` when it keeps to the plain subset, or undefined: then only the full parser may
 * read it (and report its errors). An empty document is null, as the full parser has it.
 */
export function readPlainYaml(text: string): { data: unknown } | undefined {
  if (OUTSIDE.test(text) || !plainLines(text)) return undefined;
  let data: unknown;
  try {
    data = jsyaml.load(text, { schema: SCHEMA });
  } catch {
    return undefined;
  }
  if (hasNullKey(data)) return undefined;
  return { data: data === undefined ? null : data };
}
