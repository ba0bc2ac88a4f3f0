// The ClusterClient contract: one set of assertions that the in-memory fake (test/kube/
// contract.test.ts) and the real client against the lab's API servers (test/live/contract.test.ts)
// must both pass, so that what the unit tests learn on the fake holds on a real cluster.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MeshformError } from '../../src/errors.js';
import { FIELD_MANAGER, type ClusterClient, type KubeObject } from '../../src/kube/client.js';

export interface ContractSubject {
  client: ClusterClient;
  /** A namespace of the suite's own, empty; objects are made in it. */
  namespace: string;
  /** Server-side apply of `obj` by another field manager (as `kubectl apply --server-side --field-manager`). */
  writeAs(manager: string, obj: KubeObject): Promise<void>;
  /** Removes what the suite made. */
  cleanup(): Promise<void>;
}

const cm = (namespace: string, name: string, data: Record<string, string>, labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...(labels ? { labels } : {}) }, data,
});

/** Registers the contract's tests for the client `open()` makes. */
export function clientContract(label: string, open: () => Promise<ContractSubject>): void {
  describe(`ClusterClient contract: ${label}`, { concurrency: 1 }, () => {
    let s: ContractSubject;
    before(async () => {
      s = await open();
    });
    after(async () => s?.cleanup());

    it('get of an object that does not exist is undefined (not an error); list with no match is empty', async () => {
      assert.equal(await s.client.get('ConfigMap', 'no-such-object', s.namespace), undefined);
      assert.deepEqual(await s.client.list('ConfigMap', { namespace: s.namespace, labelSelector: 'meshform-contract=none' }), []);
    });

    it("apply creates the object as field manager meshform; get returns it; applying it again changes nothing", async () => {
      const made = await s.client.apply(cm(s.namespace, 'c1', { a: '1' }));
      assert.deepEqual(made['data'], { a: '1' });
      assert.ok(made.metadata.managedFields?.some((m) => m.manager === FIELD_MANAGER && m.operation === 'Apply'), JSON.stringify(made.metadata.managedFields));
      const got = await s.client.get('ConfigMap', 'c1', s.namespace);
      assert.deepEqual(got?.['data'], { a: '1' });
      assert.equal(got?.metadata.resourceVersion, made.metadata.resourceVersion);
      const again = await s.client.apply(cm(s.namespace, 'c1', { a: '1' }));
      assert.equal(again.metadata.resourceVersion, made.metadata.resourceVersion, 'an apply with no change stores nothing new');
    });

    it('a dry run returns the object as it would be and stores nothing', async () => {
      const before = await s.client.get('ConfigMap', 'c1', s.namespace);
      const would = await s.client.apply(cm(s.namespace, 'c1', { a: '2' }), { dryRun: true });
      assert.equal((would['data'] as Record<string, string>)['a'], '2');
      const after = await s.client.get('ConfigMap', 'c1', s.namespace);
      assert.deepEqual(after?.['data'], { a: '1' });
      assert.equal(after?.metadata.resourceVersion, before?.metadata.resourceVersion);
    });

    it('list filters by namespace and by label selector', async () => {
      await s.client.apply(cm(s.namespace, 'l1', { x: '1' }, { 'meshform-contract': 'one' }));
      await s.client.apply(cm(s.namespace, 'l2', { x: '2' }, { 'meshform-contract': 'two' }));
      const one = await s.client.list('ConfigMap', { namespace: s.namespace, labelSelector: 'meshform-contract=one' });
      assert.deepEqual(one.map((o) => o.metadata.name), ['l1']);
      const both = await s.client.list('ConfigMap', { namespace: s.namespace, labelSelector: 'meshform-contract' });
      assert.deepEqual(both.map((o) => o.metadata.name).sort(), ['l1', 'l2']);
      assert.ok(both.every((o) => o.kind === 'ConfigMap' && o.metadata.namespace === s.namespace));
    });

    it("a field another manager owns: the same value is no conflict; another value is KUBE_CONFLICT (exit 3) naming the cluster and the manager, unless forced", async () => {
      await s.writeAs('other-tool', cm(s.namespace, 'c2', { owned: 'theirs', free: 'x' }));
      await s.client.apply(cm(s.namespace, 'c2', { owned: 'theirs' }));
      await assert.rejects(s.client.apply(cm(s.namespace, 'c2', { owned: 'mine' })), (e: unknown) => {
        assert.ok(e instanceof MeshformError);
        assert.equal(e.exitCode, 3);
        assert.equal(e.findings[0]?.code, 'KUBE_CONFLICT');
        assert.match(e.message, new RegExp(`^cluster ${s.client.cluster}: server-side apply of ConfigMap c2 conflicts with another field manager: .*conflict with "other-tool"`));
        return true;
      });
      await assert.rejects(s.client.apply(cm(s.namespace, 'c2', { owned: 'mine' }), { dryRun: true }), /conflict with "other-tool"/, 'a dry run finds the conflict too');
      assert.equal(((await s.client.get('ConfigMap', 'c2', s.namespace))?.['data'] as Record<string, string>)['owned'], 'theirs');
      const forced = await s.client.apply(cm(s.namespace, 'c2', { owned: 'mine' }), { force: true });
      assert.deepEqual(forced['data'], { owned: 'mine', free: 'x' }, "forcing takes over that field only; the other manager's other fields stay");
      await s.client.apply(cm(s.namespace, 'c2', { owned: 'mine again' }));
    });
  });
}
