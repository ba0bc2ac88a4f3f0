// The ClusterClient contract (contract.ts) on the in-memory fake; test/live/contract.test.ts runs
// the same assertions on the real client against the lab.
import { clientContract } from './contract.js';
import { FakeClusterClient } from './fake-client.js';

clientContract('the in-memory fake', async () => {
  const client = new FakeClusterClient('mesh01');
  return {
    client,
    namespace: 'meshform-contract',
    writeAs: async (manager, obj) => void client.writeAs(manager, obj),
    cleanup: async () => undefined,
  };
});
