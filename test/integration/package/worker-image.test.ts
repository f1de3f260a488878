/**
 * The worker image, built and run (issue 13 item 5): `ima-qs package worker --image` builds it
 * FROM scratch with buildah (twice: the same manifest digest and the same archive bytes), podman
 * loads the OCI archive into a store of its own and runs it as ECS would (read-only root file
 * system, /tmp writable, every capability dropped, no new privileges, the image's own non-root
 * user), with `--runtime runc --network host` (no bridge is created: the container reaches
 * moto_server on loopback) and the ulimit flags this VM needs (../shared/notes/oci-build.md).
 *
 * Inside, the real worker consumes one sealed request from moto's SQS (keys from Secrets Manager,
 * the labelled simulated PCR bank in /tmp), stores the decision (verified here under the pinned
 * key), its health command (`podman exec … node /app/health.mjs`) says healthy, it runs as uid
 * 1000 (the image config's User, and /proc/1/status and /proc/self/status read by node inside:
 * FROM scratch has no `id`), and `podman stop` (SIGTERM) ends it with exit 0. tpm2-tools in the
 * image read a PCR from a software TPM (swtpm) through the swtpm TCTI, and the device and mssim
 * TCTIs load (libtss2-tctildr dlopen()s them by name).
 *
 * Skipped, with the reason, where buildah, podman or runc is missing (.ci/run installs them).
 * Every store it makes lives in one temp folder, removed at the end. Nothing is cached between
 * runs: each step takes seconds (build ~20 s, load ~5 s), and a cached image would not test the build.
 * Root podman/runc/buildah still create a few empty state folders whatever their flags say
 * (/run/containers/networks, /run/runc, /var/lib/containers/cache with buildah's blob-info cache):
 * the ones that did not exist before the test are removed after it. No bridge, no iptables rule,
 * no ip_forward change: --network host and --network none create none.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyResponse } from '../../../src/protocol/response-verify.js';
import { sealRequest } from '../../../src/protocol/request.js';
import type { ProxyHandler } from '../../../src/service/proxy/handler.js';
import { proxyFromEnv } from '../../../src/service/wiring.js';
import { runCli } from '../../helpers/cli.js';
import { startMoto, type Moto } from '../../helpers/moto.js';
import { startSwtpm, type Swtpm } from '../../helpers/swtpm.js';
import { waitFor } from '../../helpers/wait.js';
import { CLEAN_CODE, event, openDecision, p, serviceFixture } from '../../unit/service/fixtures.js';
import { createAwsResources, PREFIX } from '../service/setup.js';

const onPath = (name: string) => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, name)));
const missing = ['buildah', 'podman', 'runc'].filter((t) => !onPath(t));
const skipReason = missing.length ? `${missing.join(', ')} not installed (apt-get install -y buildah podman runc; .ci/run does)` : undefined;
if (skipReason) process.stderr.write(`worker-image: skipped: ${skipReason}\n`);

const CONTAINER = `ima-qs-worker-test-${process.pid}`;
/** the temporary folders of `package worker --image` (src/package/image-build.ts, artifacts.ts) */
const ours = (name: string) => name.startsWith('ima-qs-buildah-') || name.startsWith('ima-qs-image-');
/** state folders root podman, runc and buildah create outside their --root/--runroot/--tmpdir */
const SYSTEM_STATE = ['/run/containers', '/run/runc', '/run/libpod', '/var/lib/containers'];
const preexisting = new Set(SYSTEM_STATE.filter((d) => existsSync(d)));

/** Removes a state folder this test created: empty folders, and buildah's blob-info cache. */
function removeCreatedState(): void {
  for (const d of SYSTEM_STATE) {
    if (preexisting.has(d) || !existsSync(d)) continue;
    if (d === '/var/lib/containers') rmSync(join(d, 'cache', 'blob-info-cache-v1.boltdb'), { force: true });
    const prune = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) prune(join(dir, e.name));
      try {
        rmdirSync(dir); // only when empty: never what another process put there
      } catch {
        /* not empty: leave it */
      }
    };
    prune(d);
  }
}
const f = serviceFixture();

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** A program with an argument array, never a shell; the exit code is an answer, not a throw. */
function exec(cmd: string, args: string[], timeoutMs = 120_000): Promise<Out> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 32 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(skipReason !== undefined)(`the worker image (ima-qs package worker --image)${skipReason ? ` — skipped: ${skipReason}` : ''}`, () => {
  let work: string;
  let moto: Moto;
  let swtpm: Swtpm | undefined;
  let proxy: ProxyHandler;
  let res: Awaited<ReturnType<typeof createAwsResources>>;
  let image: Record<string, any>;
  let imageRef: string;
  let before: Set<string>;
  /** podman with every piece of state inside `work` (../shared/notes/oci-build.md) */
  let podman: (args: string[], timeoutMs?: number) => Promise<Out>;

  beforeAll(async () => {
    before = new Set(readdirSync(tmpdir()).filter(ours));
    work = mkdtempSync(join(tmpdir(), 'ima-image-test-'));
    const globals = [
      '--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs', '--runtime', 'runc',
      '--tmpdir', join(work, 'libpod'), '--network-config-dir', join(work, 'networks'), '--volumepath', join(work, 'volumes'),
      '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime-flag', `root=${join(work, 'runc')}`,
    ];
    podman = (args, timeoutMs) => exec('podman', [...globals, ...args], timeoutMs);
    moto = await startMoto();
    res = await createAwsResources(moto.env, f, { visibility: 10, maxReceiveCount: 5 });
    proxy = proxyFromEnv({ ...moto.env, QUEUE_URL: res.queueUrl, KEYS_SECRET_PREFIX: PREFIX });
  }, 120_000);

  afterAll(async () => {
    if (podman) {
      await podman(['rm', '--force', '--time', '0', CONTAINER]).catch(() => undefined);
      await podman(['rmi', '--all', '--force']).catch(() => undefined);
    }
    await Promise.all([moto?.stop(), swtpm?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
    removeCreatedState();
  }, 120_000);

  it('builds FROM scratch, reproducibly: the same manifest digest and archive bytes twice', async () => {
    const runs = [];
    for (const dir of ['image-1', 'image-2']) {
      const r = await runCli(['package', 'worker', '--image', '-o', join(work, dir), '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      runs.push(r.json());
    }
    const [a, b] = runs.map((r) => r.image);
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(b.imageId).toBe(a.imageId);
    expect(b.archiveSha256).toBe(a.archiveSha256);
    expect(readFileSync(join(work, 'image-2', 'ima-qs-worker.oci.tar')).equals(readFileSync(join(work, 'image-1', 'ima-qs-worker.oci.tar')))).toBe(true);
    image = a;
    expect(image).toMatchObject({ base: 'scratch', user: '1000:1000', architecture: 'amd64', tag: expect.stringMatching(/^localhost\/ima-qs-worker:/) });
    expect(image.node).toMatch(/^v24\./);
    expect(image.packages['tpm2-tools']).toMatch(/^5\./);
    expect(image.config).toMatchObject({ Entrypoint: ['/usr/local/bin/node', '/app/worker.mjs'], User: '1000:1000', StopSignal: 'SIGTERM' });
    expect(image.config.Labels['io.ima-qs.healthcheck']).toBe('/usr/local/bin/node /app/health.mjs');
    // what the README quotes: sizes and the build time
    process.stderr.write(`worker-image: ${image.uncompressedBytes} B uncompressed, layer ${image.layerBytes} B, archive ${image.archiveBytes} B, built in ${image.buildSeconds} s\n`);
    // the build left no temporary store behind
    expect(readdirSync(tmpdir()).filter((n) => ours(n) && !before.has(n))).toEqual([]);
  }, 300_000);

  it('loads into podman from the archive; the image config says non-root', async () => {
    const load = await podman(['load', '-i', join(work, 'image-1', 'ima-qs-worker.oci.tar')], 300_000);
    expect(load.code, load.stderr).toBe(0);
    imageRef = image.tag;
    const inspect = await podman(['image', 'inspect', imageRef]);
    expect(inspect.code, inspect.stderr).toBe(0);
    const [info] = JSON.parse(inspect.stdout);
    expect(`sha256:${info.Id}`).toBe(image.imageId);
    expect(info.Config.User).toBe('1000:1000');
    expect(info.Digest).toBe(image.manifestDigest);
  }, 300_000);

  it('runs the worker against moto on loopback: one sealed request decided and stored, healthy, uid 1000, exit 0 on SIGTERM', async () => {
    expect(imageRef, 'the image was loaded').toBeDefined();
    const env: Record<string, string> = {
      ...moto.env,
      // what infra/ecs.tf sets (audit_anchor = "none-explicit"), with short polls for the test
      QUEUE_URL: res.queueUrl,
      REQUESTS_TABLE: 'ima-quantum-requests',
      DECISIONS_TABLE: 'ima-quantum-decisions',
      AUDIT_TABLE: 'ima-tpm-audit-log',
      KEYS_SECRET_PREFIX: PREFIX,
      IMA_QS_PCR_ANCHOR: 'simulated:/tmp/ima-qs-pcr-simulated.json',
      PCR_INDEX: '11',
      VISIBILITY_SECONDS: '10',
      AUDIT_CHAIN_ID: 'image-test',
      WAIT_SECONDS: '1',
    };
    const r = sealRequest(p, f.recipient, 'analyze', { name: 'add.ts', content: CLEAN_CODE });
    expect((await proxy(event('POST', '/api/analyze', { body: r.sealed }))).statusCode).toBe(202);

    const run = await podman([
      'run', '--detach', '--name', CONTAINER,
      '--network', 'host', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
      // as the ECS task definition: read-only root, /tmp writable, no capabilities, no privilege gain
      '--read-only', '--tmpfs', '/tmp:rw,mode=1777', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      imageRef,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const logs = async () => (await podman(['logs', CONTAINER])).stdout;

    const decided = await waitFor(async () => {
      const state = (await podman(['inspect', '--format', '{{.State.Status}}', CONTAINER])).stdout.trim();
      if (state !== 'running') throw new Error(`the container is ${state}:\n${await logs()}`);
      const out = await proxy(event('GET', `/api/decisions/${r.handle}`));
      return out.statusCode === 200 ? out : undefined;
    }, 'the decision in the decisions table', 90_000, 500);
    const response = openDecision(decided.body!, r.replyKey) as { audit: { batch: { statement: { pcr: { simulated: boolean; index: number } } } } };
    const v = verifyResponse(p, response, f.pin, { requestDigest: r.handle });
    expect(v.checks.filter((c) => !c.ok)).toEqual([]);
    expect(response.audit.batch.statement.pcr).toMatchObject({ simulated: true, index: 11 });

    // the health command, inside the container: healthy once the poll loop has completed a receive
    const health = await waitFor(async () => {
      const h = await podman(['exec', CONTAINER, '/usr/local/bin/node', '/app/health.mjs']);
      return h.code === 0 ? h : undefined;
    }, 'a healthy health check', 30_000, 1000);
    expect(health.stdout).toMatch(/^healthy: last successful receive \d+ s ago/);

    // non-root: the worker (PID 1) and a process started in the container both run as uid/gid 1000
    const ids = await podman(['exec', CONTAINER, '/usr/local/bin/node', '-e',
      "const f=require('fs');for(const p of ['1','self']){const s=f.readFileSync('/proc/'+p+'/status','utf8');console.log(p, s.match(/^Uid:\\s+(.*)$/m)[1], '|', s.match(/^Gid:\\s+(.*)$/m)[1], '|', s.match(/^CapEff:\\s+(.*)$/m)[1])}"]);
    expect(ids.code, ids.stderr).toBe(0);
    expect(ids.stdout.trim().split('\n').map((l) => l.split(/\s*\|\s*|\s+/).filter(Boolean))).toEqual([
      ['1', '1000', '1000', '1000', '1000', '1000', '1000', '1000', '1000', '0000000000000000'],
      ['self', '1000', '1000', '1000', '1000', '1000', '1000', '1000', '1000', '0000000000000000'],
    ]);
    // the root file system is read-only, /tmp is not
    const write = await podman(['exec', CONTAINER, '/usr/local/bin/node', '-e', "const f=require('fs');f.writeFileSync('/tmp/x','1');try{f.writeFileSync('/app/x','1');console.log('app writable')}catch(e){console.log(e.code)}"]);
    expect(write.stdout.trim()).toBe('EROFS');

    const stop = await podman(['stop', '--time', '30', CONTAINER], 60_000);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await podman(['inspect', '--format', '{{.State.ExitCode}}', CONTAINER])).stdout.trim()).toBe('0');
    const lines = (await logs()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['worker started', 'stopping', 'worker stopped']));
    expect(lines.find((l) => l.msg === 'worker stopped')).toMatchObject({ decided: 1 });
  }, 240_000);

  it("has working tpm2-tools: reads a PCR from swtpm through the swtpm TCTI; the device and mssim TCTIs load", async () => {
    expect(imageRef, 'the image was loaded').toBeDefined();
    swtpm = await startSwtpm();
    // the container's user (1000) must reach the sockets of this test's private swtpm
    chmodSync(swtpm.dir, 0o755);
    for (const s of [swtpm.sock, `${swtpm.sock}.ctrl`]) chmodSync(s, 0o666);
    const tool = (tcti: string, ...args: string[]) =>
      podman(['run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--read-only', '--cap-drop', 'ALL',
        '--volume', `${swtpm!.dir}:${swtpm!.dir}`, '--entrypoint', '/usr/bin/tpm2_pcrread', imageRef, '-T', tcti, ...args]);
    const read = await tool(swtpm.tcti, 'sha256:16');
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toMatch(/sha256:\s*\n\s*16\s*:\s*0x0{64}/);
    // tctildr dlopen()s a TCTI by name: only a loaded library gets as far as its device or socket
    const device = await tool('device:/dev/ima-qs-no-such-tpm', 'sha256:16');
    expect(device.code).not.toBe(0);
    expect(device.stderr).toMatch(/tcti-device\.c:\d+:Tss2_Tcti_Device_Init\(\) Failed to open specified TCTI device file \/dev\/ima-qs-no-such-tpm/);
    const mssim = await tool('mssim:host=127.0.0.1,port=1', 'sha256:16');
    expect(mssim.code).not.toBe(0);
    expect(mssim.stderr).toMatch(/socket_connect\(\) Failed to connect to host 127\.0\.0\.1, port 1/);
    // the control: a TCTI the image does not have fails before any device or socket
    const none = await tool('nosuch:x', 'sha256:16');
    expect(none.code).not.toBe(0);
    expect(none.stderr).not.toMatch(/Failed to open specified|Failed to connect/);
  }, 120_000);
});
