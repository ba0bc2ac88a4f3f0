/**
 * Reading input files (spec, values, facts) and parsing their YAML into findings instead of
 * exceptions: missing, unreadable and oversized files, syntax errors with line and column.
 */
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Document, LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import type { Finding } from '../errors.js';

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

function ioFinding(err: unknown, path: string, role: FileRole): Finding {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return fileError(
      'FILE_NOT_FOUND',
      path,
      role,
      `${role.what} ${path} does not exist`,
      'every file the spec names must exist; relative paths resolve from the spec file\'s folder',
      `create ${path}, or correct the path`,
    );
  }
  const reason = code === 'EISDIR' ? 'it is a directory' : code ?? (err instanceof Error ? err.message : String(err));
  return fileError(
    'FILE_UNREADABLE',
    path,
    role,
    `${role.what} ${path} cannot be read (${reason})`,
    'every file the spec names must be a readable file',
    `make ${path} a readable regular file`,
  );
}

function tooLarge(path: string, size: number, role: FileRole): Finding {
  return fileError(
    'FILE_TOO_LARGE',
    path,
    role,
    `${role.what} ${path} is ${size} bytes; meshform refuses input files over ${MAX_INPUT_BYTES} bytes (16 MiB)`,
    'input files are at most 16 MiB',
    `check that ${path} is the intended file`,
  );
}

/** Reads a UTF-8 text file, or returns the finding that says why not. */
export function readInputFileSync(path: string, role: FileRole): string | Finding {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return ioFinding({ code: 'EISDIR' }, path, role);
    if (st.size > MAX_INPUT_BYTES) return tooLarge(path, st.size, role);
    return readFileSync(path, 'utf8');
  } catch (err) {
    return ioFinding(err, path, role);
  }
}

/** Async twin of {@link readInputFileSync}. */
export async function readInputFile(path: string, role: FileRole): Promise<string | Finding> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) return ioFinding({ code: 'EISDIR' }, path, role);
    if (st.size > MAX_INPUT_BYTES) return tooLarge(path, st.size, role);
    return await readFile(path, 'utf8');
  } catch (err) {
    return ioFinding(err, path, role);
  }
}

export interface ParsedYaml {
  doc: Document;
  data: unknown;
  lines: LineCounter;
}

/**
 * Parses one YAML document. The first syntax error, duplicate keys, several documents and
 * alias bombs become findings at `role.findingPath`.
 */
export function parseYamlText(text: string, displayPath: string, role: FileRole, codePrefix: SyntaxPrefix = 'YAML'): ParsedYaml | Finding[] {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_INPUT_BYTES) return [tooLarge(displayPath, bytes, role)];
  const lines = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true, strict: true });
  } catch (err) {
    return [syntax(codePrefix, displayPath, role, `cannot be parsed: ${err instanceof Error ? err.message : String(err)}`)];
  }
  if (doc.errors.length > 0) {
    // Later syntax errors mostly cascade from the first one; report the earliest, and say how many follow.
    const e = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0])[0]!;
    const pos = e.linePos?.[0];
    const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    const where = pos ? `line ${pos.line}, column ${pos.col}` : 'unknown position';
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more error(s) after it)` : '';
    return [syntax(codePrefix, displayPath, role, `${where}: ${first}${more}`)];
  }
  let data: unknown;
  try {
    // Aliases are expanded by toJS; cap them so a "billion laughs" file cannot exhaust memory.
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    return [syntax(codePrefix, displayPath, role, `cannot be expanded: ${err instanceof Error ? err.message : String(err)}`)];
  }
  return { doc, data, lines };
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
