/**
 * The `meshform` command line: thin wiring from flags to the library; one top-level handler maps
 * errors to messages, and exit.ts maps outcomes to exit codes (EXIT_CODES_HELP).
 */
import { Command, CommanderError, Option } from 'commander';
import { INIT_CERTIFICATES, type InitCertificates } from '../defaults.js';
import { MeshformError } from '../errors.js';
import { EXIT_CODES_HELP, EXIT_CODES_SHORT, exitCodeFor, exitCodeForError } from '../exit.js';
import { formatFindings, processIo, type Io } from './io.js';
import { ALL_TARGETS } from '../render/types.js';
import type { applyCommand, caRotateCommand, disconnectCommand, LiveDeps, LiveFlags } from './live.js';

// Each command loads its own modules when it runs: `--help` loads none of them, `validate` not the
// Kubernetes client, the etcd/gRPC client or the renderer (start-up time: bench/startup.bench.ts).
const validateCmd = () => import('./validate.js');
const renderCmd = () => import('./render.js');
const caCmd = () => import('./ca.js');
const liveCmd = () => import('./live.js');

/** kubectl-style connection flags; a cluster's own kubeconfig/context in the spec wins. */
function liveOptions(cmd: Command): Command {
  return cmd
    .option('--kubeconfig <file>', 'kubeconfig for clusters that name none in the spec (default: $KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'context for clusters that name none in the spec')
    .option('--request-timeout <duration>', 'timeout of each Kubernetes request', '30s');
}

const VERSION = '0.1.0';

function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');
}

export function buildProgram(io: Io, setCode: (code: number) => void, deps: LiveDeps = {}): Command {
  const program = new Command('meshform')
    .description('Form and keep a Cilium Cluster Mesh between RKE2 clusters, the GitOps way.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .option(
      '--allow-outside-paths',
      "read values files outside the mesh file's folder (symlinks resolved); off by default, as values are copied into files meant for Git",
      false,
    );
  program.addHelpText(
    'after',
    `\n${EXIT_CODES_HELP}\nEnvironment:\n  MESHFORM_NOW  pin the clock, ISO 8601 with a time zone (e.g. 2026-11-27T12:00:00Z); a malformed value is refused (exit 2)\n`,
  );
  // The opt-in is the operator's, on the command line, never the spec's: a spec cannot pull in
  // /etc/shadow or a kubeconfig by itself.
  const global = (): { allowOutsidePaths: boolean } => ({ allowOutsidePaths: program.opts<{ allowOutsidePaths: boolean }>().allowOutsidePaths === true });

  program
    .command('validate')
    .description('check a mesh spec against every rule before anything is written or applied')
    .argument('<spec>', 'the mesh file (mesh.yaml)')
    .option('--facts <file>', 'facts about the live clusters (nodes with roles and IPs) for the live rules')
    .addOption(outputOption())
    .action(async (spec: string, opts: { facts?: string; output: 'table' | 'json' }) => {
      setCode(await (await validateCmd()).validateCommand(io, spec, { ...opts, ...global() }));
    });

  program
    .command('render')
    .description('write Helm values, RKE2 HelmChartConfigs, Rancher/Terraform fragments and a Fleet bundle for every cluster')
    .argument('<spec>', 'the mesh file (mesh.yaml)')
    .requiredOption('--out <dir>', 'output folder (secrets/ inside it is 0700 and git-ignored)')
    .option('--targets <list>', `comma-separated subset of ${ALL_TARGETS.join(',')}`, ALL_TARGETS.join(','))
    .option('--facts <file>', 'facts about the live clusters for the live rules')
    .option('--take-over', 'write into a folder meshform did not create, or another mesh\'s, or over files changed by hand (their files of the same names are replaced; others kept)', false)
    .addOption(new Option('-o, --output <format>', 'summary format').choices(['table', 'json']).default('table'))
    .action(async (spec: string, opts: { out: string; targets: string; facts?: string; output: 'table' | 'json' }) => {
      setCode(await (await renderCmd()).renderCommand(io, spec, { ...opts, ...global() }));
    });

  const ca = program.command('ca').description('the shared certificate authority every cluster of the mesh trusts');
  ca.command('init')
    .description('create a new shared CA (ca.crt, and ca.key with mode 0600)')
    .argument('[dir]', 'folder for ca.crt and ca.key (default: the CA paths of --spec, else ./ca)')
    .option('--spec <file>', 'write to the ca.cert / ca.key paths named in this mesh file')
    .addOption(new Option('--algorithm <alg>', 'key algorithm').choices(['ecdsa-p256', 'rsa-2048', 'rsa-4096']).default('ecdsa-p256'))
    .option('--days <n>', 'validity in days', '3650')
    .option('--cn <name>', 'subject common name: one line, 1-64 characters', 'Cilium CA')
    .option('--force', 'overwrite existing CA files', false)
    .action(async (dir: string | undefined, opts: { spec?: string; algorithm: string; days: string; cn: string; force: boolean }) => {
      setCode(await (await caCmd()).caInitCommand(io, dir, { ...opts, ...global() }));
    });
  ca.command('import')
    .description('import an existing CA: PEM files or a cilium-ca Secret (kubectl get secret cilium-ca -o yaml)')
    .argument('<source>', 'a folder with ca.crt/ca.key, a PEM certificate file (its key beside it as .key), or a Secret manifest')
    .argument('[dir]', 'folder for ca.crt and ca.key (default: the CA paths of --spec, else ./ca)')
    .option('--spec <file>', 'write to the ca.cert / ca.key paths named in this mesh file')
    .option('--force', 'overwrite existing CA files', false)
    .action(async (source: string, dir: string | undefined, opts: { spec?: string; force: boolean }) => {
      setCode(await (await caCmd()).caImportCommand(io, source, dir, { ...opts, ...global() }));
    });
  liveOptions(
    ca.command('rotate')
      .description('replace the shared CA without downtime, in three phases (trust both, re-issue every certificate, drop the old CA), each applied to every cluster and gated on every link ready; resumable. With certificates.method keep (clusters adopted with their own CAs) the same phases converge every cluster onto the spec\'s CA')
      .argument('<spec>', 'the mesh file (its ca: is the CA rotated away from)')
      .option('--new-ca <dir>', 'folder with the new ca.crt and ca.key (meshform ca init DIR); not with certificates.method keep, whose mesh converges onto the spec\'s own CA')
      .requiredOption('--out <dir>', 'output folder (as apply): each phase\'s files are written here'),
  )
    .option('--timeout <duration>', 'rollout wait per cluster and phase', '5m')
    .option('--gate-timeout <duration>', 'how long each phase waits for every link to be ready', '5m')
    .option('--dry-run', 'check that the rotation can start (every cluster reachable, every link ready, the new CA usable) and show the phases', false)
    .option('--take-over', 'write into a folder meshform did not create (as apply)', false)
    .action(async (spec: string, opts: Parameters<typeof caRotateCommand>[2]) => {
      setCode(await (await liveCmd()).caRotateCommand(io, spec, { ...opts, ...global() }, deps));
    });
  ca.command('show')
    .description('show subject, fingerprint and expiry of the CA (never the key)')
    .argument('[dir]', 'folder with ca.crt/ca.key (default: the CA paths of --spec, else ./ca)')
    .option('--spec <file>', 'use the ca.cert / ca.key paths named in this mesh file')
    .addOption(outputOption())
    .action(async (dir: string | undefined, opts: { spec?: string; output: 'table' | 'json' }) => {
      setCode(await (await caCmd()).caShowCommand(io, dir, { ...opts, ...global() }));
    });

  liveOptions(
    program
      .command('discover')
      .description('read every cluster of the spec: nodes and roles, RKE2 HelmChart/HelmChartConfig, the rke2-cilium release, cilium-config, clustermesh-apiserver')
      .argument('<spec>', 'the mesh file'),
  )
    .addOption(new Option('-o, --output <format>', 'facts format').choices(['yaml', 'json']).default('yaml'))
    .option('--save <file>', 'write the facts to this file (for validate --facts) instead of stdout')
    .action(async (spec: string, opts: LiveFlags & { output: 'yaml' | 'json'; save?: string }) => {
      setCode(await (await liveCmd()).discoverCommand(io, spec, { ...opts, ...global() }, deps));
    });

  program
    .command('init')
    .description('write a starting mesh.yaml (and each cluster\'s current values) from live clusters')
    .option('--kubeconfig <file>', 'kubeconfig holding the contexts (default: $KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'context of a cluster to mesh (repeat per cluster)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--name <mesh>', 'name of the mesh', 'mesh')
    .option('--domain <domain>', 'clustermesh domain (default mesh.cilium.io)')
    .option('--out <dir>', 'folder for mesh.yaml and the values files', '.')
    .option('--request-timeout <duration>', 'timeout of each Kubernetes request', '30s')
    .option('--force', 'overwrite an existing mesh.yaml (with --add: existing values files of the new clusters)', false)
    .option('--add <spec>', 'add the --context clusters to this existing mesh file (next free ID and NodePort, checked against its clusters; comments kept)')
    .addOption(new Option('--certificates <method>', "keep: each cluster keeps its own CA and certificates (adoption; converge later with ca rotate); provided: the shared CA replaces theirs (default: keep when their CAs differ and one is in a mesh already)").choices(INIT_CERTIFICATES))
    .action(async (opts: { kubeconfig?: string; context: string[]; name: string; out: string; force: boolean; requestTimeout?: string; domain?: string; add?: string; certificates?: InitCertificates }) => {
      setCode(await (await liveCmd()).initCommand(io, opts, deps));
    });

  liveOptions(
    program
      .command('apply')
      .description('render, then apply to every cluster in parallel: Secrets and the HelmChartConfig (server-side apply), or helm upgrade; then wait for the rollouts')
      .argument('<spec>', 'the mesh file')
      .requiredOption('--out <dir>', 'output folder: the files applied are written here for review (as render does)'),
  )
    .addOption(new Option('--method <method>', 'how values reach the cluster').choices(['helmchartconfig', 'helm']).default('helmchartconfig'))
    .option('--dry-run', 'show each cluster\'s plan (its ordered steps) and diff after a server-side dry run, and stop', false)
    .option('--timeout <duration>', 'rollout wait per cluster', '5m')
    .option('--no-wait', 'do not wait for the rollouts')
    .option('--chart <ref>', 'chart for --method helm', 'rke2-charts/rke2-cilium')
    .option('--helm <binary>', 'helm binary for --method helm', 'helm')
    .option('--force', 'take over fields other field managers own', false)
    .option('--take-over', 'write into a folder meshform did not create, or another mesh\'s, or over files changed by hand (their files of the same names are replaced; others kept)', false)
    .option('--only <clusters>', 'apply to these clusters only (comma-separated names); the others are left alone')
    .option('--allow-identity-change', 'allow a new name or ID on a running cluster that is not meshed yet (a meshed one is refused, with the steps to do it)', false)
    .option('--no-progress', 'plain progress lines on stderr instead of the live view (also when stderr is no terminal or CI is set)')
    .option('--waves <groups>', 'roll out in waves: groups of clusters, comma-separated within a group, groups separated by ";" (e.g. "canary1;prod1,prod2"); clusters not named form a last wave; each wave waits for the mesh links to be ready before the next')
    .option('--wave-size <n>', 'roll out N clusters at a time, each wave gated on the mesh links being ready')
    .option('--gate-timeout <duration>', 'how long the gate between waves waits for the links to be ready', '5m')
    .option('--prune', 'also clear the mesh configuration of clusters taken out of the spec (reached through the context plan.json recorded for them); see it first with --dry-run', false)
    .addOption(outputOption())
    .action(async (spec: string, opts: Parameters<typeof applyCommand>[2]) => {
      setCode(await (await liveCmd()).applyCommand(io, spec, { ...opts, ...global() }, deps));
    });

  program
    .command('disconnect')
    .description("clear one cluster's mesh configuration (it dials no peer and admits none): for a cluster taken out of the spec that apply --prune could not reach")
    .argument('<name>', 'the cluster (as the mesh knew it)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context of the cluster')
    .option('--request-timeout <duration>', 'timeout of each API call')
    .option('--release <name>', 'the HelmChart/HelmChartConfig of Cilium', 'rke2-cilium')
    .option('--namespace <ns>', "Cilium's namespace", 'kube-system')
    .option('--dry-run', 'show the change after a server-side dry run, and stop', false)
    .option('--timeout <duration>', 'rollout wait', '5m')
    .option('--no-wait', 'do not wait for the rollout')
    .addOption(outputOption())
    .action(async (name: string, opts: Parameters<typeof disconnectCommand>[2]) => {
      setCode(await (await liveCmd()).disconnectCommand(io, name, { ...opts, ...global() }, deps));
    });

  liveOptions(
    program
      .command('diff')
      .description('live versus rendered, per cluster; exits 1 on drift')
      .argument('<spec>', 'the mesh file')
      .requiredOption('--out <dir>', 'output folder of render (its certificates are reused)'),
  )
    .addOption(outputOption())
    .action(async (spec: string, opts: LiveFlags & { out: string; output: 'table' | 'json' }) => {
      setCode(await (await liveCmd()).diffCommand(io, spec, { ...opts, ...global() }, deps));
    });

  liveOptions(
    program
      .command('status')
      .description('every agent of every cluster: which peers are ready on how many nodes')
      .argument('<spec>', 'the mesh file'),
  )
    .option('--wait', 'wait until every peer is ready on every node', false)
    .option('--timeout <duration>', 'how long --wait waits', '5m')
    .option('--detail', 'per-node detail', false)
    .option('--exec-timeout <duration>', 'how long each agent pod may take to answer', '20s')
    .addOption(outputOption())
    .action(async (spec: string, opts: LiveFlags & { wait: boolean; timeout: string; detail: boolean; execTimeout: string; output: 'table' | 'json' }) => {
      setCode(await (await liveCmd()).statusCommand(io, spec, { ...opts, ...global() }, deps));
    });

  liveOptions(
    program
      .command('doctor')
      .description('every failure status sees, with cause and fix, plus a probe of every peer endpoint from here')
      .argument('<spec>', 'the mesh file'),
  )
    .option('--no-probe', 'skip the endpoint probes')
    .option('--exec-timeout <duration>', 'how long each agent pod may take to answer', '20s')
    .addOption(outputOption())
    .action(async (spec: string, opts: LiveFlags & { output: 'table' | 'json'; probe: boolean; execTimeout: string }) => {
      setCode(await (await liveCmd()).doctorCommand(io, spec, { ...opts, ...global() }, deps));
    });

  // Every command's own --help names the policy too (the full text is in meshform --help).
  const walk = (c: Command): void => {
    for (const sub of c.commands) {
      if (sub.commands.length === 0) sub.addHelpText('after', `\n${EXIT_CODES_SHORT}`);
      walk(sub);
    }
  };
  walk(program);
  return program;
}

/**
 * Runs the CLI with `argv` (without node and script); resolves to the exit code. `deps` reach the
 * live commands (tests run them in-process on in-memory clusters).
 */
export async function main(argv: string[], io: Io = processIo(), deps: LiveDeps = {}): Promise<number> {
  let code: number = exitCodeFor('ok');
  const program = buildProgram(io, (c) => {
    code = c;
  }, deps);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    return handleError(io, err);
  }
}

export function handleError(io: Io, err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version are successful exits; everything else commander rejects is a usage error.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return exitCodeFor('ok');
    return exitCodeFor('usage');
  }
  if (err instanceof MeshformError) {
    if (err.findings.length > 0) io.err(formatFindings(err.findings));
    else io.err(`meshform: ${err.message}`);
    return exitCodeForError(err);
  }
  const message = err instanceof Error ? err.message : String(err);
  io.err(`meshform: internal error, please report: ${message}`);
  if (io.env.MESHFORM_DEBUG && err instanceof Error && err.stack) io.err(err.stack);
  else io.err('This is a bug in meshform; please report it with the command you ran (never include key files); MESHFORM_DEBUG=1 shows the stack.');
  return exitCodeForError(err);
}
