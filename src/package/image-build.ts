/**
 * Builds the worker image with buildah and writes it as an OCI archive (../shared/notes/oci-build.md):
 *
 *   buildah bud --isolation chroot --pull=never --timestamp 0 --format oci   (FROM scratch, no
 *     registry, no daemon; --timestamp 0 sets every time in the config and the layer to the epoch)
 *   buildah push … oci:LAYOUT                                                   (an OCI image layout)
 *   tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu
 *                                                                              (the layout as one file)
 *
 * The image (config, layer, manifest) is reproducible: the same inputs give the same image id and
 * manifest digest. containers/image's own `oci-archive:` transport wraps the layout in a tar with
 * the current time, so the archive is written with tar instead: byte-for-byte the same twice too.
 * `podman load -i` and `skopeo copy oci-archive:` read it like theirs.
 *
 * The storage (vfs driver) is a fresh temporary folder, removed afterwards whatever happens, as is
 * TMPDIR for buildah's blob copies: nothing is left in /var/lib/containers or /var/tmp.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImaError } from '../errors.js';
import { parseStrictJson } from '../protocol/strict-json.js';
import { run } from './exec.js';

const BUILD_TIMEOUT_MS = 600_000;

export interface ImageBuildOptions {
  /** the build context: Containerfile + rootfs/ */
  context: string;
  /** e.g. localhost/ima-qs-worker:0.1.0 */
  tag: string;
  /** the OCI archive to write (replaced) */
  archive: string;
  buildah: string;
  env: Record<string, string | undefined>;
}

export interface OciConfig {
  architecture?: string;
  os?: string;
  config?: { User?: string; Entrypoint?: string[]; Env?: string[]; WorkingDir?: string; StopSignal?: string; Labels?: Record<string, string> };
}

export interface ImageBuildResult {
  archive: string;
  archiveBytes: number;
  archiveSha256: string;
  /** sha256 of the OCI manifest: the image's identity in a registry */
  manifestDigest: string;
  /** sha256 of the image config (what buildah/podman call the image id) */
  imageId: string;
  /** compressed layer bytes, as the manifest lists them */
  layerBytes: number;
  config: OciConfig;
  buildahVersion: string;
  seconds: number;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const bad = (message: string) => new ImaError('remote', 'IMAGE_BUILD_FAILED', message);

async function readJsonBlob(layout: string, digest: string): Promise<unknown> {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw bad(`the image layout names a blob ${digest.slice(0, 80)} that is not a sha256 digest`);
  const data = await readFile(join(layout, 'blobs', 'sha256', m[1]));
  if (createHash('sha256').update(data).digest('hex') !== m[1]) throw bad(`blob ${digest} does not match its digest`);
  return parseStrictJson(data.toString('utf8'));
}

export async function buildImage(o: ImageBuildOptions): Promise<ImageBuildResult> {
  const started = Date.now();
  const store = await mkdtemp(join(tmpdir(), 'ima-qs-buildah-'));
  const tmp = join(store, 'tmp');
  await mkdir(tmp);
  const env = { ...o.env, TMPDIR: tmp, BUILDAH_ISOLATION: 'chroot' };
  const sto = ['--root', join(store, 'root'), '--runroot', join(store, 'run'), '--storage-driver', 'vfs'];
  const buildah = (args: string[]) => run(o.buildah, [...sto, ...args], { timeoutMs: BUILD_TIMEOUT_MS, env, code: 'IMAGE_BUILD_FAILED' });
  try {
    const version = (await run(o.buildah, ['--version'], { timeoutMs: 30_000, env })).stdout.trim().replace(/^buildah version\s*/, '').split(' ')[0];
    const iidFile = join(store, 'iid');
    await buildah(['bud', '--isolation', 'chroot', '--pull=never', '--timestamp', '0', '--format', 'oci', '--iidfile', iidFile, '-f', join(o.context, 'Containerfile'), '-t', o.tag, o.context]);
    const layout = join(store, 'layout');
    const digestFile = join(store, 'digest');
    await buildah(['push', '--digestfile', digestFile, o.tag, `oci:${layout}:${o.tag.replace(/^localhost\//, '')}`]);
    const imageId = (await readFile(iidFile, 'utf8')).trim();
    const manifestDigest = (await readFile(digestFile, 'utf8')).trim();

    // what the layout says, checked against what buildah reported
    const index = (await readJsonBlobFile(join(layout, 'index.json'))) as { manifests?: { digest?: string }[] };
    const mdigest = index.manifests?.[0]?.digest ?? '';
    if (mdigest !== manifestDigest) throw bad(`the layout's manifest ${mdigest.slice(0, 80)} is not the pushed ${manifestDigest}`);
    const manifest = (await readJsonBlob(layout, mdigest)) as { config?: { digest?: string }; layers?: { size?: number }[] };
    if (manifest.config?.digest !== imageId) throw bad(`the manifest's config ${String(manifest.config?.digest).slice(0, 80)} is not the built image ${imageId}`);
    const config = (await readJsonBlob(layout, imageId)) as OciConfig;

    const partial = `${o.archive}.partial`;
    await mkdir(join(o.archive, '..'), { recursive: true });
    await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu', '--mode=u+rwX,go+rX,go-w', '-cf', partial, '-C', layout, 'blobs', 'index.json', 'oci-layout'], {
      timeoutMs: BUILD_TIMEOUT_MS,
      code: 'IMAGE_BUILD_FAILED',
    });
    await rename(partial, o.archive);
    return {
      archive: o.archive,
      archiveBytes: (await stat(o.archive)).size,
      archiveSha256: await sha256File(o.archive),
      manifestDigest,
      imageId,
      layerBytes: (manifest.layers ?? []).reduce((s, l) => s + (l.size ?? 0), 0),
      config,
      buildahVersion: version,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    await rm(`${o.archive}.partial`, { force: true });
    await rm(store, { recursive: true, force: true });
  }
}

async function readJsonBlobFile(path: string): Promise<unknown> {
  return parseStrictJson(await readFile(path, 'utf8'));
}
