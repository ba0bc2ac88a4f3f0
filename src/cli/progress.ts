/**
 * The progress view of `meshform apply` on stderr. It only renders the events applyMesh reports:
 * applyMesh owns the parallel work, per-cluster failure isolation and the result (hence the exit
 * code); this module never changes any of them.
 *
 * Two modes:
 * - `live` (stderr is a terminal): one row per cluster, redrawn in place with listr2's default
 *   renderer: the cluster's current step, its elapsed time, and at the end its outcome.
 * - `lines` (pipes, CI, `--no-progress`): one timestamped line per event, as plain text.
 */
import { DefaultRenderer, Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper } from 'listr2';
import type { ApplyEvent, ApplyOutcome, ApplyResult } from '../apply/apply.js';
import type { Io } from './io.js';

export type ProgressMode = 'live' | 'lines';

/** The terminal behind `io.err`, or undefined when err is not one (pipes, tests, a fake Io). */
export function errTerminalOf(io: Io): NodeJS.WriteStream | undefined {
  const t = io.errTerminal;
  // A terminal of no size (a pseudo-terminal nobody sized, as in some CI runners and `docker -t`)
  // would show no row until the end: plain lines serve it better.
  return t && (t.rows ?? 0) > 0 && (t.columns ?? 0) > 0 ? t : undefined;
}

const truthy = (v: string | undefined): boolean => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

/**
 * `live` only on a terminal that can redraw, and neither `--no-progress` (`progress: false`) nor
 * a CI environment asks for plain lines (CI logs keep every line; redraws would garble them).
 */
export function progressMode(o: { terminal: boolean; progress?: boolean; env: NodeJS.ProcessEnv }): ProgressMode {
  if (!o.terminal || o.progress === false) return 'lines';
  if (truthy(o.env['CI']) || o.env['TERM'] === 'dumb') return 'lines';
  return 'live';
}

// Error texts come from the Kubernetes API and helm; a private key must never reach the terminal,
// whatever they echo back.
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;

/** Removes private-key PEM blocks (also cut-off ones) from text about to be shown. */
export function scrub(text: string): string {
  return text.replace(PRIVATE_KEY, '[redacted private key]');
}

/** `[  1.2s] mesh01: wait: DaemonSet cilium`: the plain line of one event, `elapsedMs` after the start. */
export function formatEventLine(e: ApplyEvent, elapsedMs: number): string {
  return `[${(elapsedMs / 1000).toFixed(1).padStart(5)}s] ${e.cluster}: ${e.phase}: ${scrub(e.message)}`;
}

/** `7s`, `1m05s`: whole seconds, short enough for a row. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** The reason of a failure, short: its first line, without the `cluster <name>: ` the row already shows. */
export function shortReason(cluster: string, message: string): string {
  const first = scrub(message).split('\n')[0] ?? '';
  return first.startsWith(`cluster ${cluster}: `) ? first.slice(`cluster ${cluster}: `.length) : first;
}

// waitForRollout reports kubectl-like text (`1 of 3 updated pods are available`); a row shows it as 1/3.
function rolloutProgress(message: string): string {
  const m = /^(\d+) of (\d+) (.+)$/.exec(message);
  return m ? `${m[1]}/${m[2]} ${m[3]}` : message;
}

/** What a row says about the cluster's current step (after its name and elapsed time). */
export function describeEvent(e: ApplyEvent): string {
  switch (e.step) {
    case 'preflight':
      return 'preflight: live checks';
    case 'diff':
      return 'diff: reading live objects';
    case 'dry-run':
      return 'server-side dry run of the changed objects';
    case 'write-secret':
      return `writing ${e.object ?? 'Secret'}`;
    case 'apply-object':
      return `applying ${e.object ?? 'objects'} (server-side apply)`;
    case 'helm-upgrade':
      return `helm upgrade ${e.object?.replace(/^release /, '') ?? ''}`.trimEnd();
    case 'helm-controller':
      return "waiting for RKE2's helm-controller to install a new revision";
    case 'rollout':
      // The first event of a rollout names the object; the ones after it carry its progress.
      return e.object && e.message !== e.object ? `${e.object} rollout ${rolloutProgress(scrub(e.message))}` : `${e.object ?? e.message} rollout`;
    case 'changed':
    case 'would-change':
      return scrub(e.message);
    case 'unchanged':
      return 'unchanged';
    case 'failed':
      return `failed: ${shortReason(e.cluster, e.message)}`;
    default:
      return `${e.phase}: ${scrub(e.message)}`;
  }
}

type Final = 'ok' | 'failed';

interface Row {
  cluster: string;
  text: string;
  /** Clock of the cluster's first event; elapsed time counts from it. */
  start?: number;
  end?: number;
  final?: Final;
  task?: ListrTaskWrapper<unknown, typeof LiveRenderer, typeof LiveRenderer>;
  settle: (final: Final) => void;
  settled: Promise<Final>;
}

/** listr2's default renderer, drawing on the stream it is given even when stdout is piped. */
class LiveRenderer extends DefaultRenderer {
  // listr2 tests process.stdout for a terminal; meshform decides for stderr itself (progressMode).
  static override nonTTY = true;
}

export interface ApplyProgressOptions {
  /** The clusters, in the order their rows appear. */
  clusters: readonly string[];
  mode: ProgressMode;
  /** Milliseconds; elapsed times are differences of it. */
  now: () => number;
  /** Mode `lines`: where each line goes (the CLI's io.err). */
  writeLine: (line: string) => void;
  /** Mode `live`: the terminal to draw on (process.stderr). */
  terminal?: NodeJS.WriteStream;
  /**
   * Mode `live`: the other process stream, held back while rows are drawn so that nothing else
   * tears them (process.stdout); what was written to it appears after the view ends.
   */
  heldStream?: NodeJS.WriteStream;
  /** Mode `live`: redraw elapsed times this often (ms; default 1000; 0: only on events). */
  refreshMs?: number;
  /** Mode `live`: animate a spinner on running rows (default true; tests turn it off to get exact frames). */
  spinner?: boolean;
  /**
   * The wave of each cluster (1-based) when the rollout has more than one: rows then carry a `wN`
   * column, and rows of later waves say which gate they wait for.
   */
  waves?: ReadonlyMap<string, number>;
}

/** Feeds applyMesh's events to the view; `close` ends it. */
export interface ApplyProgress {
  /** Pass as `ApplyOptions.onEvent`. */
  onEvent(e: ApplyEvent): void;
  /**
   * Ends the view: rows still open take their outcome from `result` (or show `stopped` when the
   * apply threw); resolves once the last frame is on the terminal. Call it before printing the summary.
   */
  close(result?: ApplyResult): Promise<void>;
  /** Resolves once every row is on the terminal (at once in mode `lines`); tests wait for it. */
  readonly drawn: Promise<void>;
  /**
   * A poll of the gate after wave `wave`: the queued rows of the next waves show it (mode `live`;
   * mode `lines` prints the CLI's own gate lines).
   */
  onGate(wave: number, ready: number, total: number): void;
}

function deferred(): { promise: Promise<Final>; resolve: (f: Final) => void } {
  let resolve: (f: Final) => void = () => {};
  const promise = new Promise<Final>((r) => (resolve = r));
  return { promise, resolve };
}

const OUTCOME_TEXT: Record<ApplyOutcome, string> = { changed: 'changed', unchanged: 'unchanged', 'would-change': 'would change', failed: 'failed' };

/** Starts the progress view of an apply to `clusters`. */
export function startApplyProgress(opts: ApplyProgressOptions): ApplyProgress {
  const started = opts.now();
  if (opts.mode === 'lines' || !opts.terminal) {
    return {
      onEvent: (e) => opts.writeLine(formatEventLine(e, opts.now() - started)),
      close: async () => {},
      drawn: Promise.resolve(),
      onGate: () => {},
    };
  }
  const width = Math.max(...opts.clusters.map((c) => c.length));
  const waveOf = (c: string) => opts.waves?.get(c);
  const manyWaves = new Set(opts.waves?.values() ?? []).size > 1;
  const waveWidth = manyWaves ? Math.max(...[...opts.waves!.values()].map((w) => `w${w}`.length)) : 0;
  const queued = (c: string) => {
    const w = waveOf(c);
    return manyWaves && w !== undefined && w > 1 ? `queued: wave ${w} starts once the links of wave ${w - 1} are ready` : 'queued';
  };
  const rows = new Map<string, Row>();
  for (const cluster of opts.clusters) {
    const d = deferred();
    rows.set(cluster, { cluster, text: queued(cluster), settle: d.resolve, settled: d.promise });
  }
  const title = (r: Row): string => {
    const elapsed = r.start === undefined ? '' : formatElapsed((r.end ?? opts.now()) - r.start);
    const wave = manyWaves ? `  ${`w${waveOf(r.cluster) ?? ''}`.padEnd(waveWidth)}` : '';
    return `${r.cluster.padEnd(width)}${wave}  ${elapsed.padStart(5)}  ${r.text}`;
  };
  const redraw = (r: Row): void => {
    if (r.task) r.task.title = title(r);
  };
  const finish = (r: Row, final: Final, text: string): void => {
    if (r.final) return;
    r.text = text;
    r.start ??= opts.now();
    r.end = opts.now();
    r.final = final;
    redraw(r);
    r.settle(final);
  };

  let toDraw = rows.size;
  let allDrawn: () => void = () => {};
  const drawn = new Promise<void>((r) => (allDrawn = r));
  const terminal = opts.terminal;
  const listr = new Listr<unknown, typeof LiveRenderer, typeof LiveRenderer>(
    [...rows.values()].map((row) => ({
      title: title(row),
      task: async (_ctx: unknown, task: ListrTaskWrapper<unknown, typeof LiveRenderer, typeof LiveRenderer>) => {
        row.task = task;
        redraw(row);
        if (--toDraw === 0) allDrawn();
        // A failed row ends as a failed task (✖); the error text is the row itself.
        if ((await row.settled) === 'failed') throw new Error(title(row));
      },
    })),
    {
      concurrent: true,
      exitOnError: false,
      collectErrors: false,
      // Ctrl-C keeps node's own meaning (listr2 would exit with 127).
      registerSignalListeners: false,
      renderer: LiveRenderer,
      fallbackRenderer: LiveRenderer,
      rendererOptions: {
        lazy: opts.spinner === false,
        collapseErrors: true,
        showErrorMessage: true,
        logger: new ListrLogger({ processOutput: new ProcessOutput(terminal, opts.heldStream ?? (new HeldSink() as unknown as NodeJS.WriteStream)) }),
      },
    },
  );
  const running = listr.run();
  const refreshMs = opts.refreshMs ?? 1000;
  const timer =
    refreshMs > 0
      ? setInterval(() => {
          for (const r of rows.values()) if (!r.final && r.start !== undefined) redraw(r);
        }, refreshMs)
      : undefined;
  timer?.unref();

  return {
    drawn,
    onGate(wave, ready, total) {
      for (const r of rows.values()) {
        const w = waveOf(r.cluster);
        if (r.start !== undefined || r.final || w === undefined || w <= wave) continue;
        r.text = w === wave + 1 ? `queued: gate of wave ${wave}: ${ready}/${total} links ready` : queued(r.cluster);
        redraw(r);
      }
    },
    onEvent(e) {
      const r = rows.get(e.cluster);
      if (!r || r.final) return;
      r.start ??= opts.now();
      const text = describeEvent(e);
      if (e.step === 'failed' || e.phase === 'failed') finish(r, 'failed', text);
      else if (e.phase === 'done') finish(r, 'ok', text);
      else {
        r.text = text;
        redraw(r);
      }
    },
    async close(result) {
      for (const r of rows.values()) {
        const c = result?.clusters.find((x) => x.cluster === r.cluster);
        if (!c) finish(r, 'failed', 'stopped');
        else if (c.outcome === 'failed') finish(r, 'failed', `failed: ${shortReason(r.cluster, c.error?.message ?? 'unknown error')}`);
        else finish(r, 'ok', OUTCOME_TEXT[c.outcome]);
      }
      if (timer) clearInterval(timer);
      // The view only shows the apply; a drawing failure must not change its result or exit code.
      await running.catch(() => undefined);
    },
  };
}

/**
 * Stands in for the held stream when none is given: listr2 holds back two streams and must not
 * be given the terminal twice (releasing the same stream twice would leave its write hijacked).
 */
class HeldSink {
  write(): boolean {
    return true;
  }
}
