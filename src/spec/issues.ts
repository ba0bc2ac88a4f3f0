/**
 * Turns zod issues into findings: exact path, the offending value, a plain-words message, the rule
 * and a fix (with a did-you-mean for unknown keys).
 */
import type { z } from 'zod';
import type { Finding } from '../errors.js';
import type { IssueParams } from './schema.js';
import { knownKeysAt } from './schema.js';
import { didYouMean } from './suggest.js';

type Seg = string | number;

/** `['clusters', 1, 'endpoint', 'nodePort']` → `clusters[1].endpoint.nodePort`. */
export function formatPath(segments: readonly Seg[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** A value rendered for humans, short. */
export function showValue(v: unknown): string {
  let s: string;
  if (v === undefined) return '(missing)';
  if (typeof v === 'string') s = JSON.stringify(v);
  else if (typeof v === 'bigint') s = v.toString();
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return 'a date';
  switch (typeof v) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isInteger(v) ? 'an integer' : 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'a map';
    default:
      return typeof v;
  }
}

function expectedWords(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'a boolean (true or false)';
    case 'array':
      return 'a list';
    case 'object':
    case 'record':
      return 'a map';
    default:
      return expected;
  }
}

function valueAt(root: unknown, segments: readonly Seg[]): unknown {
  let v = root;
  for (const s of segments) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[s as string];
  }
  return v;
}

/**
 * Maps the issues of one safeParse to findings. `prefix` is where `input` sits in the file
 * (e.g. `['clusters', 2]`), `schema` the schema that parsed it (for known keys).
 */
export function issuesToFindings(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  schema: z.ZodType,
  prefix: readonly Seg[] = [],
): Finding[] {
  const out: Finding[] = [];
  for (const issue of issues) mapIssue(issue, input, schema, prefix, [], out);
  return out;
}

function mapIssue(
  issue: z.core.$ZodIssue,
  input: unknown,
  schema: z.ZodType,
  prefix: readonly Seg[],
  base: readonly Seg[],
  out: Finding[],
): void {
  const rel: Seg[] = [...base, ...(issue.path as Seg[])];
  const segs = [...prefix, ...rel];
  const path = formatPath(segs);
  const value = valueAt(input, rel);
  const last = segs[segs.length - 1];
  const field = last === undefined ? 'the file' : typeof last === 'number' ? `item ${last}` : `"${last}"`;
  const push = (code: Finding['code'], message: string, rule: string, fix: string, shown: unknown = value) =>
    out.push({ code, severity: 'error', path, value: showValue(shown), message, rule, fix });

  switch (issue.code) {
    case 'custom': {
      const p = issue.params as IssueParams | undefined;
      push(p?.code ?? 'SPEC_INVALID_VALUE', issue.message, p?.rule ?? 'the value must be valid', p?.fix ?? 'correct the value');
      return;
    }
    case 'unrecognized_keys': {
      const known = knownKeysAt(schema, rel);
      for (const key of issue.keys) {
        const hint = didYouMean(key, known);
        const kpath = formatPath([...segs, key]);
        out.push({
          code: 'SPEC_UNKNOWN_KEY',
          severity: 'error',
          path: kpath,
          value: showValue(key),
          message: hint ? `${kpath}: unknown key; did you mean "${hint}"?` : `${kpath}: unknown key`,
          rule: `${path === '' ? 'the top level' : path} accepts only: ${known.join(', ')}`,
          fix: hint ? `rename "${key}" to "${hint}"` : `remove "${key}" or correct its spelling`,
        });
      }
      return;
    }
    case 'invalid_type': {
      const exp = expectedWords(issue.expected);
      if (value === undefined) {
        push(
          'SPEC_REQUIRED',
          `${path}: required field is missing`,
          `${field} is required`,
          `add ${field} (${exp})`,
        );
        return;
      }
      const quoteHint =
        issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')
          ? `; quote it ("${String(value)}")`
          : '';
      push(
        'SPEC_TYPE',
        `${path}: expected ${exp}, got ${kindOf(value)}`,
        `${field} must be ${exp}`,
        `write ${field} as ${exp}${quoteHint}`,
      );
      return;
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => JSON.stringify(v));
      const words = allowed.length === 1 ? allowed[0]! : `one of ${allowed.join(', ')}`;
      push('SPEC_INVALID_VALUE', `${path}: ${showValue(value)} is not allowed; must be ${words}`, `${field} must be ${words}`, `set ${field} to ${words}`);
      return;
    }
    case 'invalid_union': {
      const branches = issue.errors;
      // A branch that failed deeper than its root type matched the shape: report its issues.
      const deep = branches.find((b) => b.length > 0 && !b.every((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')));
      if (deep) {
        for (const i of deep) mapIssue(i, input, schema, prefix, rel, out);
        return;
      }
      const lits = branches.flat().filter((i) => i.code === 'invalid_value');
      if (lits.length === branches.flat().length && lits.length > 0) {
        const allowed = lits.flatMap((i) => (i.code === 'invalid_value' ? i.values : [])).map((v) => JSON.stringify(v));
        const words = `one of ${allowed.join(', ')}`;
        push('SPEC_INVALID_VALUE', `${path}: ${showValue(value)} is not allowed; must be ${words}`, `${field} must be ${words}`, `set ${field} to ${words}`);
        return;
      }
      const exps = branches
        .flat()
        .map((i) => (i.code === 'invalid_type' ? expectedWords(i.expected) : undefined))
        .filter((x): x is string => !!x);
      const exp = [...new Set(exps)].join(' or ') || 'a different value';
      if (value === undefined) {
        push('SPEC_REQUIRED', `${path}: required field is missing`, `${field} is required`, `add ${field} (${exp})`);
        return;
      }
      push('SPEC_TYPE', `${path}: expected ${exp}, got ${kindOf(value)}`, `${field} must be ${exp}`, `write ${field} as ${exp}`);
      return;
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const cmp = issue.code === 'too_small' ? 'at least' : 'at most';
      let what: string;
      if (issue.origin === 'array') what = `${cmp} ${String(bound)} item(s)`;
      else if (issue.origin === 'string') what = `${cmp} ${String(bound)} character(s)`;
      else what = `${cmp} ${String(bound)}`;
      const verb = issue.origin === 'array' || issue.origin === 'string' ? 'must have' : 'must be';
      push('SPEC_OUT_OF_RANGE', `${path}: ${showValue(value)} ${verb} ${what}`, `${field} ${verb} ${what}`, verb === 'must have' ? `give ${field} ${what}` : `set ${field} to a value ${what}`);
      return;
    }
    default:
      push('SPEC_INVALID_VALUE', `${path}: ${issue.message}`, `${field} must be valid`, `correct ${field}`);
  }
}
