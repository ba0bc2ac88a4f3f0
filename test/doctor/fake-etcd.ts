// A minimal etcd stand-in for the probe tests: a real gRPC server (grpc-js, etcd's own KV proto as
// shipped with the etcd3 package) over mTLS on 127.0.0.1 that maps the client certificate's CN to
// a user, as etcd does with --client-cert-auth, and answers KV.Range from a map.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const protoDir = join(dirname(require.resolve('etcd3/package.json')), 'proto');

export interface FakeEtcd {
  port: number;
  close(): Promise<void>;
}

export async function startFakeEtcd(opts: {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Users (client certificate CNs) allowed to read. */
  users: string[];
  data: Record<string, string>;
}): Promise<FakeEtcd> {
  const def = protoLoader.loadSync(join(protoDir, 'rpc.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [protoDir] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { etcdserverpb: { KV: { service: grpc.ServiceDefinition } } };
  const server = new grpc.Server();
  server.addService(pkg.etcdserverpb.KV.service, {
    Range: (call: grpc.ServerUnaryCall<{ key: Buffer }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const raw = call.getAuthContext().sslPeerCertificate?.subject?.CN;
      const cn = Array.isArray(raw) ? raw[0] : raw;
      if (!cn || !opts.users.includes(cn)) {
        cb({ code: grpc.status.PERMISSION_DENIED, details: 'etcdserver: permission denied' });
        return;
      }
      const key = Buffer.from(call.request.key).toString('utf8');
      const value = opts.data[key];
      const kvs = value === undefined ? [] : [{ key: Buffer.from(key), value: Buffer.from(value), create_revision: '1', mod_revision: '1', version: '1', lease: '0' }];
      cb(null, { header: { cluster_id: '1', member_id: '1', revision: '1', raft_term: '1' }, kvs, more: false, count: String(kvs.length) });
    },
  });
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(opts.caPem), [{ cert_chain: Buffer.from(opts.certPem), private_key: Buffer.from(opts.keyPem) }], true);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  return {
    port,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
