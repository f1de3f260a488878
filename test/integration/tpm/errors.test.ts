/**
 * No TPM, no tools, a hung TPM: each a clear error with a code, exit 4, one JSON document with
 * --json, and no stack trace. Runs the whole program in-process (run(argv, deps)).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../../helpers/cli.js';

const dir = mkdtempSync('/tmp/ima-tpmerr-');
const dead = `swtpm:path=${join(dir, 'nothing-here.sock')}`;
const hungSock = join(dir, 'hung.sock');
const servers: Server[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  // a "TPM" that accepts connections (data and control channel) and never answers
  for (const p of [hungSock, `${hungSock}.ctrl`]) {
    const s = createServer((c) => {
      sockets.push(c);
      c.on('error', () => {});
    });
    await new Promise<void>((resolve) => s.listen(p, resolve));
    servers.push(s);
  }
});
afterAll(async () => {
  for (const c of sockets) c.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

async function expectFailure(argv: string[], env: Record<string, string | undefined>, code: string) {
  const r = await runCli([...argv, '--json'], { env, cwd: dir });
  expect(r.code).toBe(4);
  const doc = r.json();
  expect(doc.ok).toBe(false);
  expect(doc.error.code).toBe(code);
  expectNoStack(r.stdout + r.stderr);
  expect(r.stderr).toMatch(/^ima-qs: error: /);
  return doc;
}

describe('tpm errors through the program', () => {
  it('--tcti pointing at a dead socket: TPM_UNREACHABLE', async () => {
    await expectFailure(['tpm', 'read', '--tcti', dead], { ...process.env }, 'TPM_UNREACHABLE');
  });

  it('TPM2TOOLS_TCTI pointing at a dead socket (inherited): TPM_UNREACHABLE, and no log is written', async () => {
    await expectFailure(
      ['tpm', 'extend', '--digest', 'ab'.repeat(32), '--event-log', 'x.log'],
      { ...process.env, TPM2TOOLS_TCTI: dead },
      'TPM_UNREACHABLE',
    );
    expect(existsSync(join(dir, 'x.log'))).toBe(false);
  });

  it('tools missing from PATH: TPM_TOOLS_MISSING', async () => {
    const empty = join(dir, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const doc = await expectFailure(['tpm', 'read', '--tcti', dead], { ...process.env, PATH: empty }, 'TPM_TOOLS_MISSING');
    expect(doc.error.hint).toMatch(/tpm2-tools/);
  });

  it('a hung TPM: TPM_TIMEOUT after --timeout', async () => {
    const doc = await expectFailure(['tpm', 'read', '--tcti', `swtpm:path=${hungSock}`, '--timeout', '0.5'], { ...process.env }, 'TPM_TIMEOUT');
    expect(doc.error.message).toMatch(/0\.5 s/);
  });

  it('a hung TPM during quote: TPM_TIMEOUT, and no quote file is written', async () => {
    await expectFailure(
      ['tpm', 'quote', '--tcti', `swtpm:path=${hungSock}`, '--timeout', '0.3', '--nonce', '00'.repeat(16), '-o', 'q.json'],
      { ...process.env },
      'TPM_TIMEOUT',
    );
    expect(existsSync(join(dir, 'q.json'))).toBe(false);
  });

  it('bad flag values are input errors (exit 3), not device errors', async () => {
    for (const [argv, code] of [
      [['tpm', 'read', '--pcr', '24'], 'BAD_PCR_INDEX'],
      [['tpm', 'read', '--pcr', 'eleven'], 'BAD_PCR_INDEX'],
      [['tpm', 'read', '--bank', 'md5'], 'BAD_BANK'],
      [['tpm', 'read', '--timeout', '0'], 'BAD_TIMEOUT'],
      [['tpm', 'quote', '--nonce', '00', '-o', 'q.json'], 'BAD_NONCE'],
    ] as const) {
      const r = await runCli([...argv, '--tcti', dead, '--json'], { cwd: dir });
      expect([r.code, r.json().error.code]).toEqual([3, code]);
    }
  });
});
