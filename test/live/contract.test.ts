/**
 * The ClusterClient contract (test/kube/contract.ts) on the real client against a lab API server:
 * the same assertions the in-memory fake passes. Needs the lab (`npm run lab -- up`): fails loudly
 * without it. Works in a namespace of its own, deleted afterwards.
 */
import { NodeClusterClient } from '../../src/kube/node-client.js';
import { clientContract } from '../kube/contract.js';
import { holdLab, kubectl, paths, requireLab } from '../lab/harness.js';

clientContract('the real client on the lab', async () => {
  const release = await holdLab('test/live/contract');
  const { clusters } = requireLab(1);
  const context = clusters[0]!.name;
  const namespace = `meshform-contract-${process.pid}`;
  await kubectl(context, ['create', 'namespace', namespace]);
  const client = NodeClusterClient.connect(context, { kubeconfig: paths.kubeconfig, context });
  return {
    client,
    namespace,
    writeAs: async (manager, obj) => void (await kubectl(context, ['apply', '--server-side', '--field-manager', manager, '-f', '-'], JSON.stringify(obj))),
    cleanup: async () => {
      try {
        await kubectl(context, ['delete', 'namespace', namespace, '--wait=false']);
      } finally {
        release();
      }
    },
  };
});
