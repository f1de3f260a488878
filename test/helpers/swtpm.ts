/**
 * A private software TPM for one test file (../shared/notes/swtpm.md): swtpm on a unix socket in a
 * short temp dir (socket path + ".ctrl" must fit in 108 bytes), started with not-need-init and
 * startup-clear, ready when both sockets accept, stopped with SIGTERM. Never left running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface Swtpm {
  dir: string;
  sock: string;
  tcti: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startSwtpm(): Promise<Swtpm> {
  const dir = mkdtempSync('/tmp/swtpm-');
  const sock = join(dir, 'tpm.sock');
  mkdirSync(join(dir, 'state'));
  const child = spawn(
    'swtpm',
    ['socket', '--tpm2',
      '--server', `type=unixio,path=${sock}`,
      '--ctrl', `type=unixio,path=${sock}.ctrl`,
      '--tpmstate', `dir=${join(dir, 'state')}`,
      '--flags', 'not-need-init,startup-clear'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c) => (stderr += String(c)));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.once('error', (err) => (stderr += String(err)));

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  while (!(await canConnect(sock)) || !(await canConnect(`${sock}.ctrl`))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`swtpm did not start: ${stderr.trim() || 'timeout'}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { dir, sock, tcti: `swtpm:path=${sock}`, child, stop };
}
