// The worker's Docker build context (src/package/dockerfile.ts): no Docker engine runs on this
// machine, so the Dockerfile is parsed into its instructions (line continuations, comments, the
// exec forms) and the properties are asserted on those: a pinned current-LTS base, a non-root
// USER, a HEALTHCHECK running health.mjs, the exec-form ENTRYPOINT, and a context that only
// lets the runtime files in.
import { describe, expect, it } from 'vitest';
import { checkBaseImage, DEFAULT_WORKER_BASE_IMAGE, workerDockerfile, workerDockerignore, workerPackageJson } from '../../../src/package/dockerfile.js';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile syntax: `# comments`, `\` continuations, the parser directive line, OP args. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let cur = '';
  for (const line of text.split('\n')) {
    if (!cur && /^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      cur += line.replace(/\\\s*$/, ' ');
      continue;
    }
    cur += line;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(cur);
    if (m) out.push({ op: m[1].toUpperCase(), args: m[2].trim().replace(/\s+/g, ' ') });
    else if (cur.trim()) throw new Error(`not an instruction: ${cur}`);
    cur = '';
  }
  return out;
}

const text = workerDockerfile({ baseImage: DEFAULT_WORKER_BASE_IMAGE, version: '1.2.3' });
const ins = parseDockerfile(text);
const only = (op: string) => ins.filter((i) => i.op === op);

describe('worker Dockerfile', () => {
  it('starts FROM a current Node LTS (22 or 24) with a pinned version tag', () => {
    expect(ins[0].op).toBe('FROM');
    expect(only('FROM')).toHaveLength(1);
    expect(ins[0].args).toMatch(/^node:(22|24)\.\d+\.\d+-(bookworm|trixie)-slim$/);
    expect(checkBaseImage(ins[0].args)).toBe(true);
  });

  it('installs tpm2-tools and the device TCTI without recommends, and cleans the apt lists', () => {
    const run = only('RUN').map((r) => r.args).join(' ');
    expect(run).toMatch(/apt-get install -y --no-install-recommends tpm2-tools libtss2-tcti-device0/);
    expect(run).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
  });

  it('copies exactly the runtime files into /app', () => {
    expect(only('WORKDIR').map((w) => w.args)).toEqual(['/app']);
    expect(only('COPY').map((c) => c.args)).toEqual(['package.json worker.mjs pipeline-thread.js council-thread.js health.mjs ./']);
  });

  it('runs as a non-root numeric USER, set after the last RUN and before ENTRYPOINT', () => {
    const users = only('USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0].args.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    const idx = (op: string) => ins.findIndex((i) => i.op === op);
    const lastRun = ins.map((i) => i.op).lastIndexOf('RUN');
    expect(idx('USER')).toBeGreaterThan(lastRun);
    expect(idx('USER')).toBeLessThan(idx('ENTRYPOINT'));
  });

  it('has a HEALTHCHECK that runs node /app/health.mjs (exec form) with a start period', () => {
    const hc = only('HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0].args).toMatch(/--start-period=\d+s/);
    expect(hc[0].args).toMatch(/--interval=\d+s/);
    const cmd = /CMD (\[.*\])$/.exec(hc[0].args);
    expect(JSON.parse(cmd![1])).toEqual(['node', '/app/health.mjs']);
  });

  it('starts the bundle with an exec-form ENTRYPOINT, SIGTERM as stop signal', () => {
    expect(JSON.parse(only('ENTRYPOINT')[0].args)).toEqual(['node', '/app/worker.mjs']);
    expect(only('STOPSIGNAL').map((s) => s.args)).toEqual(['SIGTERM']);
    expect(only('CMD')).toHaveLength(0);
  });

  it('keeps everything but the runtime files out of the build context', () => {
    const lines = workerDockerignore().split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual(['*', '!package.json', '!worker.mjs', '!pipeline-thread.js', '!council-thread.js', '!health.mjs']);
  });

  it('marks the folder as ES modules (the thread .js files are ESM)', () => {
    expect(JSON.parse(workerPackageJson('1.2.3'))).toEqual({ name: 'ima-qs-worker', version: '1.2.3', private: true, type: 'module' });
  });
});

describe('checkBaseImage', () => {
  it.each([
    ['node:24.22.3-bookworm-slim', true],
    ['public.ecr.aws/docker/library/node:22.20.0-bookworm-slim', true],
    ['registry.example.com:5000/base/node:24', true],
    [`node@sha256:${'a'.repeat(64)}`, true],
    ['node', false],
    ['node:latest', false],
    ['node:24 ; rm -rf /', false],
    ['Node:24', false],
  ])('%s → %s', (ref, ok) => {
    expect(checkBaseImage(ref)).toBe(ok);
  });
});
