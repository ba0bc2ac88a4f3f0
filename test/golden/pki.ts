// The committed THROWAWAY golden PKI (see test/fixtures/golden/_pki/README.md). Git keeps no file
// modes but the executable bit, so a fresh clone has the key 0644 and meshform rightly warns
// (CA_KEY_PERMISSIONS); the tests give it the mode a user's key has.
import { chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GOLDEN_PKI = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'test/fixtures/golden/_pki');
chmodSync(join(GOLDEN_PKI, 'ca.key'), 0o600);
