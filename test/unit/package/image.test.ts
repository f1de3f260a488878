// The pure parts of `ima-qs package worker --image` (the build itself: test/integration/package/
// worker-image.test.ts): ldd output parsing, the FROM-scratch Containerfile, the root file
// system plan found on this machine, and the command's refusals before any build.
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledNode } from '../../../src/package/artifacts.js';
import { WORKER_RUNTIME_FILES, workerContainerfile, workerDockerfile, workerDockerignore } from '../../../src/package/dockerfile.js';
import { IMAGE_NODE_PATH, parseLdd, planRootfs, stageRootfs } from '../../../src/package/image-rootfs.js';
import { expectNoStack, repoRoot, runCli } from '../../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'ima-image-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const LDD = `	linux-vdso.so.1 (0x00007ffd5c3f2000)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f401a92c000)
	libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f401a600000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f401a41e000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f401a945000)
`;

describe('parseLdd', () => {
  it('returns every resolved library and the loader, not the vDSO', () => {
    expect(parseLdd('node', LDD)).toEqual(['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('refuses a library this machine does not have (IMAGE_LIBRARY_MISSING, exit 5)', () => {
    expect(() => parseLdd('tpm2', `${LDD}\tlibtss2-esys.so.0 => not found\n`)).toThrow(expect.objectContaining({ code: 'IMAGE_LIBRARY_MISSING', exitCode: 5 }));
  });
});

describe('the FROM-scratch Containerfile', () => {
  const text = workerContainerfile({ version: '1.2.3', node: 'v24.22.3', packages: { 'tpm2-tools': '5.4-1' }, user: { uid: 1000, gid: 1000 }, nodePath: IMAGE_NODE_PATH });
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));

  it('starts from scratch (never a registry image) and copies one root file system', () => {
    expect(lines[0]).toBe('FROM scratch');
    expect(lines.filter((l) => l.startsWith('FROM'))).toHaveLength(1);
    expect(lines).toContain('COPY rootfs/ /');
    expect(lines.some((l) => /^RUN\b/.test(l))).toBe(false); // no shell in the image to run anything
  });

  it('runs node on the bundle as a numeric non-root user, stops on SIGTERM, labels the health command', () => {
    expect(lines).toContain('USER 1000:1000');
    expect(lines).toContain('ENTRYPOINT ["/usr/local/bin/node", "/app/worker.mjs"]');
    expect(lines).toContain('STOPSIGNAL SIGTERM');
    expect(text).toContain('io.ima-qs.healthcheck="/usr/local/bin/node /app/health.mjs"');
    expect(text).toContain('io.ima-qs.tpm2-tools="5.4-1"');
  });

  it('never writes a version it cannot vouch for into a LABEL (a quote would break out of the value)', () => {
    const hostile = workerContainerfile({ version: '1"\nRUN x', node: 'v24', packages: { 'tpm2-tools': '5" x' }, user: { uid: 1000, gid: 1000 }, nodePath: IMAGE_NODE_PATH });
    expect(hostile).not.toContain('RUN x');
    expect(hostile).toContain('org.opencontainers.image.version="unknown"');
    expect(hostile).toContain('io.ima-qs.tpm2-tools="unknown"');
  });

  it('uses one list of runtime files for the Dockerfile, the .dockerignore and the image', () => {
    expect(workerDockerfile({ baseImage: 'node:24.22.3-bookworm-slim', version: '1' })).toContain(`COPY ${WORKER_RUNTIME_FILES.join(' ')} ./`);
    for (const f of WORKER_RUNTIME_FILES) expect(workerDockerignore()).toContain(`!${f}\n`);
  });
});

describe('the root file system, planned from this machine', async () => {
  const node = bundledNode(repoRoot);
  const { execFileSync } = await import('node:child_process');
  const haveTools = (() => {
    try {
      execFileSync('dpkg', ['-s', 'tpm2-tools', 'libtss2-tcti-device0', 'libtss2-tcti-swtpm0', 'libtss2-tcti-mssim0'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  const reason = !haveTools ? 'tpm2-tools and the TCTI packages are not installed' : undefined;

  it.skipIf(reason !== undefined)(`holds node, tpm2, their libraries, the dlopen()ed TCTIs, passwd and a 1777 /tmp${reason ? ` (skipped: ${reason})` : ''}`, async () => {
    const plan = await planRootfs(node, [{ name: 'worker.mjs', data: new TextEncoder().encode('// w\n') }]);
    const paths = plan.files.map((f) => f.path);
    expect(paths).toContain('/usr/local/bin/node');
    expect(paths).toContain('/usr/bin/tpm2');
    expect(paths).toContain('/app/worker.mjs');
    for (const t of ['device', 'swtpm', 'mssim']) expect(paths.some((p) => p.endsWith(`/libtss2-tcti-${t}.so.0`))).toBe(true);
    expect(paths.some((p) => p.endsWith('/ld-linux-x86-64.so.2'))).toBe(true);
    expect(paths.some((p) => p.endsWith('/libtss2-tctildr.so.0'))).toBe(true);
    expect(plan.links).toContainEqual(['/usr/bin/tpm2_pcrextend', 'tpm2']);
    expect(plan.node.version).toMatch(/^v24\./);
    expect(plan.packages['tpm2-tools']).toMatch(/^\d/);

    const root = join(tmp, 'rootfs');
    const bytes = await stageRootfs(root, plan);
    expect(bytes).toBeGreaterThan(statSync(node).size);
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).toContain('worker:x:1000:1000:');
    expect(statSync(join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(root, 'app')).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, 'usr/local/bin/node')).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, 'app/worker.mjs')).mode & 0o777).toBe(0o644);
    expect(readlinkSync(join(root, 'usr/bin/tpm2_pcrread'))).toBe('tpm2');
  }, 60_000);
});

describe('ima-qs package worker --image (refusals before any build)', () => {
  it('--node without --image is a usage error', async () => {
    const r = await runCli(['package', 'worker', '--node', '/usr/bin/node', '-o', join(tmp, 'w1'), '--json'], { cwd: tmp });
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('NODE_WITHOUT_IMAGE');
  });

  it('without buildah on PATH: BUILDAH_MISSING, exit 5, with the install hint, no stack', async () => {
    const r = await runCli(['package', 'worker', '--image', '-o', join(tmp, 'w2'), '--json'], { cwd: tmp, env: { ...process.env, PATH: join(tmp, 'empty-path') } });
    expect(r.code).toBe(5);
    expect(r.json().error).toMatchObject({ code: 'BUILDAH_MISSING', hint: expect.stringContaining('apt-get install') });
    expectNoStack(r.stdout + r.stderr);
  });

  it('a Node older than 24, or not a Node at all, is refused (IMAGE_NODE_UNUSABLE, exit 5), before any bundling', async () => {
    for (const [name, said] of [['node22', 'v22.11.0'], ['not-node', 'hello']]) {
      const fake = join(tmp, name);
      writeFileSync(fake, `#!/bin/sh\necho ${said}\n`, { mode: 0o755 });
      const out = join(tmp, `w-${name}`);
      const r = await runCli(['package', 'worker', '--image', '--node', fake, '-o', out, '--json'], { cwd: tmp });
      expect(r.code).toBe(5);
      expect(r.json().error.code).toBe('IMAGE_NODE_UNUSABLE');
      expect(existsSync(out)).toBe(false);
    }
  }, 60_000);
});
