// reproducibleZip (src/package/zip.ts): the metadata that makes a zip reproducible, read back
// with a strict reader, and the same bytes whatever the order of the entries or the time zone.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fixedZipTime, reproducibleZip, sha256Base64, sha256Hex, ZIP_FILE_MODE } from '../../../src/package/zip.js';
import { readZip } from './zip-reader.js';

const enc = (s: string) => new TextEncoder().encode(s);
const A = { name: 'index.mjs', data: enc('export const handler = async () => ({ statusCode: 200 });\n'.repeat(50)) };
const B = { name: 'index.mjs.map', data: enc('{"version":3,"sources":[],"mappings":""}') };
const C = { name: 'lib/a.js', data: new Uint8Array(0) };

describe('reproducibleZip', () => {
  it('writes the entries sorted, deflated, with the fixed DOS time 1980-01-01 00:00, mode 0644, no extra fields', async () => {
    const recs = readZip(await reproducibleZip([B, C, A]));
    expect(recs.map((r) => r.name)).toEqual(['index.mjs', 'index.mjs.map', 'lib/a.js']);
    for (const r of recs) {
      expect(r.method).toBe(8);
      expect(r.dosDate).toBe((0 << 9) | (1 << 5) | 1); // year 1980 = 0, month 1, day 1
      expect(r.dosTime).toBe(0);
      expect(r.externalAttributes >>> 16).toBe(ZIP_FILE_MODE);
      expect(r.madeBy >> 8).toBe(3); // Unix: the mode bits are meaningful
      expect(r.centralExtra.length).toBe(0);
      expect(r.localExtra.length).toBe(0);
    }
    expect(Buffer.from(recs[0].data).equals(Buffer.from(A.data))).toBe(true);
    expect(recs[2].data.length).toBe(0);
  });

  it('gives identical bytes for the same files in any order', async () => {
    const one = await reproducibleZip([A, B, C]);
    const two = await reproducibleZip([C, A, B]);
    expect(one.equals(two)).toBe(true);
    const other = await reproducibleZip([A, { ...B, data: enc('{"version":3}') }, C]);
    expect(other.equals(one)).toBe(false);
  });

  it('gives identical bytes in another time zone (a separate process with TZ set)', async () => {
    const here = sha256Hex(await reproducibleZip([A, B]));
    const script = `import { reproducibleZip, sha256Hex } from ${JSON.stringify(fileURLToPath(new URL('../../../src/package/zip.ts', import.meta.url)))};
      const enc = (s) => new TextEncoder().encode(s);
      process.stdout.write(sha256Hex(await reproducibleZip([{ name: 'index.mjs.map', data: enc(${JSON.stringify(new TextDecoder().decode(B.data))}) }, { name: 'index.mjs', data: enc(${JSON.stringify(new TextDecoder().decode(A.data))}) }])));`;
    for (const tz of ['Pacific/Kiritimati', 'America/Los_Angeles']) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(here);
    }
  });

  it('fixes the time in local fields, so the DOS fields do not depend on the time zone', () => {
    const t = fixedZipTime();
    expect([t.getFullYear(), t.getMonth(), t.getDate(), t.getHours(), t.getMinutes(), t.getSeconds()]).toEqual([1980, 0, 1, 0, 0, 0]);
  });

  it.each([['/abs'], ['../up'], ['a//b'], ['a\\b'], ['']])('refuses the entry name %j', async (name) => {
    await expect(reproducibleZip([{ name, data: new Uint8Array(1) }])).rejects.toMatchObject({ code: 'BAD_ZIP_ENTRY' });
  });

  it('refuses a duplicate entry', async () => {
    await expect(reproducibleZip([A, A])).rejects.toMatchObject({ code: 'BAD_ZIP_ENTRY' });
  });

  it('reports SHA-256 as hex and as base64 (Lambda CodeSha256)', () => {
    const data = enc('abc');
    expect(sha256Hex(data)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Base64(data)).toBe(Buffer.from('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'hex').toString('base64'));
  });
});
