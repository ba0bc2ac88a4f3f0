/**
 * Reading input files (spec, values, facts) through the bounded reader and parsing their YAML into
 * findings instead of exceptions: missing, special, unreadable and oversized files, syntax errors
 * with line and column, alias bombs.
 */
import { basename } from 'node:path';
import { Document, LineCounter, isAlias, isCollection, isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { isDeepStrictEqual } from 'node:util';
import { ExitCode, MeshformError, type Finding } from '../errors.js';
import { readPlainYaml } from './plain-yaml.js';
import { describeFailure, readBoundedSync, type ReadFailure } from '../util/bounded-read.js';
import { RULES } from '../validate/catalogue.js';

/** Input files larger than this are refused: a spec, values or facts file is never near it. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;

/** What the file is, for messages ("values file", "mesh spec"). */
/** The file kinds whose syntax errors have their own code (`<prefix>_SYNTAX`, all in the catalogue). */
export type SyntaxPrefix = 'YAML' | 'VALUES' | 'FACTS';

export interface FileRole {
  what: string;
  /** Path of the finding, e.g. `clusters[0].values`; `` for the spec itself. */
  findingPath: string;
}

function fileError(code: Finding['code'], path: string, role: FileRole, message: string, rule: string, fix: string): Finding {
  return { code, severity: 'error', path: role.findingPath, value: path, message, rule, fix };
}

function readFinding(f: ReadFailure, path: string, role: FileRole): Finding {
  if (f.kind === 'missing') {
    return fileError(
      'FILE_NOT_FOUND',
      path,
      role,
      `${role.what} ${path} does not exist`,
      RULES.FILE_NOT_FOUND.rule,
      `create ${path}, or correct the path`,
    );
  }
  if (f.kind === 'too-large') return tooLarge(path, role);
  return fileError(
    'FILE_UNREADABLE',
    path,
    role,
    `${role.what} ${path} ${describeFailure(f, MAX_INPUT_BYTES)}`,
    RULES.FILE_UNREADABLE.rule,
    f.kind === 'special'
      ? `point it at a regular file (a pipe, socket or device is never read: its reads may not end)`
      : `make ${path} a readable regular file`,
  );
}

function tooLarge(path: string, role: FileRole): Finding {
  return fileError(
    'FILE_TOO_LARGE',
    path,
    role,
    `${role.what} ${path} is larger than ${MAX_INPUT_BYTES} bytes (16 MiB), the most meshform reads of an input file`,
    RULES.FILE_TOO_LARGE.rule,
    `check that ${path} is the intended file`,
  );
}

/**
 * Reads a UTF-8 text file (a regular file of at most {@link MAX_INPUT_BYTES}, read with a bounded
 * read), or returns the finding that says why not.
 */
export function readInputFileSync(path: string, role: FileRole): string | Finding {
  const r = readBoundedSync(path, MAX_INPUT_BYTES);
  return r.ok ? r.bytes.toString('utf8') : readFinding(r.failure, path, role);
}

/** Promise form of {@link readInputFileSync}, for async callers (the read itself is synchronous). */
export async function readInputFile(path: string, role: FileRole): Promise<string | Finding> {
  return readInputFileSync(path, role);
}

export interface ParsedYaml {
  /** The document (comments, positions); built on first use when the fast reader read the data. */
  readonly doc: Document;
  readonly data: unknown;
  /** Line positions of `doc`'s offsets. */
  readonly lines: LineCounter;
}

const DOC_OPTIONS = { prettyErrors: false, uniqueKeys: true, strict: true } as const;

/**
 * Parses one YAML document. The first syntax error, duplicate keys, several documents and
 * alias bombs become findings at `role.findingPath`. Text in the plain subset is read by the fast
 * reader ({@link readPlainYaml}) and its document is built only when asked for; that document
 * must then hold the same data, or reading it throws a {@link MeshformError} with the syntax finding.
 */
export function parseYamlText(text: string, displayPath: string, role: FileRole, codePrefix: SyntaxPrefix = 'YAML'): ParsedYaml | Finding[] {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_INPUT_BYTES) return [tooLarge(displayPath, role)];
  const plain = readPlainYaml(text);
  if (plain) {
    let full: ParsedYaml | undefined;
    const built = (): ParsedYaml => {
      if (full) return full;
      const r = parseFull(text, displayPath, role, codePrefix);
      if (Array.isArray(r) || !isDeepStrictEqual(r.data, plain.data)) {
        const detail = Array.isArray(r) ? r[0]!.message : `${role.what} ${displayPath}: reads as different data in two YAML parsers`;
        throw new MeshformError(detail, [
          Array.isArray(r) ? r[0]! : syntax(codePrefix, displayPath, role, 'reads as different data in two YAML parsers (an edge of the YAML syntax); write the value that differs plainly, or quote it'),
        ], ExitCode.input);
      }
      full = r;
      return r;
    };
    return {
      data: plain.data,
      get doc() {
        return built().doc;
      },
      get lines() {
        return built().lines;
      },
    };
  }
  return parseFull(text, displayPath, role, codePrefix);
}

/** {@link parseYamlText} with the `yaml` library's Document parser (comments, positions, aliases). */
function parseFull(text: string, displayPath: string, role: FileRole, codePrefix: SyntaxPrefix): ParsedYaml | Finding[] {
  const bytes = Buffer.byteLength(text, 'utf8');
  const lines = new LineCounter();
  let doc: Document;
  try {
    // No prettyErrors: they append an excerpt of the source, and a message must never echo file
    // contents (a values file may hold secrets); the position is computed from the offset instead.
    doc = parseDocument(text, { lineCounter: lines, ...DOC_OPTIONS });
  } catch (err) {
    return [syntax(codePrefix, displayPath, role, `cannot be parsed: ${withoutContent(err instanceof Error ? err.message : String(err))}`)];
  }
  if (doc.errors.length > 0) {
    // Later syntax errors mostly cascade from the first one; report the earliest, and say how many follow.
    const e = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0])[0]!;
    const pos = lines.linePos(e.pos[0]);
    const where = `line ${pos.line}, column ${pos.col}`;
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more error(s) after it)` : '';
    return [syntax(codePrefix, displayPath, role, `${where}: ${withoutContent(e.message)}${more}`)];
  }
  // Without an alias (`*name`) nothing expands: the text's own size is the bound, already checked.
  const size = text.includes('*') ? expandedSize(doc) : bytes;
  if (size > MAX_EXPANDED_BYTES) return [expandsTooLarge(displayPath, role, size)];
  let data: unknown;
  try {
    // The size check above bounds what aliases expand to; the alias count stays capped as well.
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    return [syntax(codePrefix, displayPath, role, `cannot be expanded: ${withoutContent(err instanceof Error ? err.message : String(err))}`)];
  }
  return { doc, data, lines };
}

/**
 * The first line of a `yaml` library message without the parts that quote the source (a tag, a
 * block scalar header, an escape sequence, a token), so that no file content reaches stderr.
 */
function withoutContent(message: string): string {
  return message
    .split('\n')[0]!
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/^(Invalid escape sequence).*$/, '$1')
    .replace(/"(?:[^"\\]|\\.)*"/g, '(…)')
    .replace(/^([^:]*?): .*$/, '$1');
}

/**
 * What a YAML file may expand to, aliases included: a file of at most {@link MAX_INPUT_BYTES} with
 * one large anchor and many aliases (an "alias bomb") would otherwise cost gigabytes when copied.
 */
export const MAX_EXPANDED_BYTES = 64 * 1024 * 1024;

/**
 * The size of `doc` with every alias replaced by what it stands for, computed from the parsed
 * nodes without expanding anything: an alias counts the size of its anchor's node, memoised per
 * anchor and resolved as YAML does (the last node with that anchor before the alias). An alias
 * inside its own anchor's node would expand without end and counts as Infinity.
 */
export function expandedSize(doc: Document): number {
  const anchors = new Map<string, number>();
  const size = (node: unknown): number => {
    if (node === null || node === undefined) return 0;
    if (isAlias(node)) return anchors.get(node.source) ?? 0;
    const anchor = isScalar(node) || isCollection(node) ? node.anchor || undefined : undefined;
    let n = 0;
    if (isScalar(node)) {
      n = node.range ? node.range[1] - node.range[0] : String(node.value).length;
    } else if (isMap(node) || isSeq(node)) {
      if (anchor) anchors.set(anchor, Infinity);
      n = 2;
      for (const item of node.items as unknown[]) n += 2 + (isPair(item) ? size(item.key) + size(item.value) : size(item));
    }
    if (anchor) anchors.set(anchor, n);
    return n;
  };
  return size(doc.contents);
}

function expandsTooLarge(path: string, role: FileRole, size: number): Finding {
  const mib = Number.isFinite(size) ? `about ${Math.ceil(size / (1024 * 1024))} MiB` : 'without end (an alias inside its own anchor)';
  return {
    code: 'YAML_EXPANSION_TOO_LARGE',
    severity: 'error',
    path: role.findingPath,
    value: basename(path),
    message: `${role.what} ${path}: its aliases expand to ${mib}; meshform refuses files that expand to more than 64 MiB`,
    rule: RULES.YAML_EXPANSION_TOO_LARGE.rule,
    fix: `write out what the aliases of ${path} repeat, or alias smaller anchors; no mesh spec, values or facts file needs this much`,
  };
}

function syntax(prefix: SyntaxPrefix, path: string, role: FileRole, detail: string): Finding {
  return {
    code: `${prefix}_SYNTAX`,
    severity: 'error',
    path: role.findingPath,
    value: basename(path),
    message: `${role.what} ${path}: ${detail}`,
    rule: 'the file must be one well-formed YAML (or JSON) document without duplicate keys',
    fix: `correct the YAML syntax of ${path} at the position shown`,
  };
}

/**
 * Line and column (1-based) of the node at `segments`, or of the nearest ancestor that exists;
 * for a key that is unknown, the key itself.
 */
export function locate(parsed: ParsedYaml, segments: readonly (string | number)[]): { line: number; col: number } | undefined {
  let node: unknown = parsed.doc.contents;
  let best: Node | undefined = node as Node | undefined;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      best = (pair.key as Node | undefined) ?? best;
      node = pair.value;
      if (node && (node as Node).range) best = node as Node;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (!node) break;
      best = node as Node;
    } else {
      break;
    }
  }
  const off = best?.range?.[0];
  return off === undefined ? undefined : parsed.lines.linePos(off);
}
