/**
 * The page's two built files (issue 16 §1): app.js, an esbuild bundle of src/web/page/main.ts for
 * browsers (ESM, minified, no `node:` module anywhere in its graph: the build fails otherwise), and
 * app.css. `npm run build` writes them to dist/web/ (scripts/build-web.mjs calls writePageAssets);
 * `local up`, `package web` and `package lambda` take them from there, or — running from a checkout's
 * src/ (tests, tsx) — bundle them afresh in memory, so what is served is never an older build.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ImaError, PreconditionError } from '../errors.js';
import { writeFileAtomic } from '../io/files.js';
import { loadEsbuild, type Esbuild } from '../io/esbuild.js';
import { PAGE_FILES } from './html.js';
import { readPageFiles } from './page-files.js';

export interface PageAssets {
  script: Uint8Array;
  style: Uint8Array;
  /** where they came from: a fresh bundle of src/, or the built dist/web/ */
  from: 'src' | 'dist';
}

/** Browsers the bundle targets (ES2022: every current engine; Chromium here is 156). */
export const PAGE_TARGET = 'es2022';
export const PAGE_ENTRY = 'src/web/page/main.ts';
export const PAGE_STYLE = 'src/web/page/app.css';
export const PAGE_DIST = 'dist/web';

/** The project root: src/web/assets.ts and dist/web/assets.js both sit two levels below it. */
export function pageRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

/** Bundles the page in memory; `inputs`: the files in the bundle (the tests check no node: module is one). */
export async function bundlePage(esbuild: Esbuild, root: string): Promise<{ script: Uint8Array; inputs: string[] }> {
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [join(root, PAGE_ENTRY)],
      outfile: join(root, PAGE_DIST, PAGE_FILES.script),
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: PAGE_TARGET,
      minify: true,
      sourcemap: false,
      legalComments: 'eof', // the dependencies' license notices stay in the bundle
      charset: 'utf8',
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
  } catch (err) {
    const first = (err as { errors?: { text?: string }[] }).errors?.[0]?.text;
    throw new ImaError('internal', 'BUNDLE_FAILED', `esbuild could not bundle the page${first ? `: ${first.slice(0, 200)}` : ''}`, { cause: err });
  }
  const out = result.outputFiles[0];
  if (!out) throw new ImaError('internal', 'BUNDLE_FAILED', 'esbuild produced no app.js');
  return { script: out.contents, inputs: Object.keys(result.metafile?.inputs ?? {}) };
}

/** `npm run build`: dist/web/app.js and dist/web/app.css. */
export async function writePageAssets(root = pageRoot()): Promise<{ dir: string; script: number; style: number }> {
  const esbuild = await loadEsbuild();
  const { script } = await bundlePage(esbuild, root);
  const style = await readFile(join(root, PAGE_STYLE));
  const dir = join(root, PAGE_DIST);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, PAGE_FILES.script), script, { force: true, mode: 0o644 });
  await writeFileAtomic(join(dir, PAGE_FILES.style), style, { force: true, mode: 0o644 });
  return { dir, script: script.length, style: style.length };
}

let cached: Promise<PageAssets> | undefined;

/** The page's files for this installation (see the module header); read once per process. */
export function loadPageAssets(root = pageRoot()): Promise<PageAssets> {
  const fromSrc = import.meta.url.endsWith('.ts') && existsSync(join(root, PAGE_ENTRY));
  const load = async (): Promise<PageAssets> => {
    if (fromSrc) {
      const { script } = await bundlePage(await loadEsbuild(), root);
      return { script, style: new Uint8Array(await readFile(join(root, PAGE_STYLE))), from: 'src' };
    }
    const files = readPageFiles(join(root, PAGE_DIST));
    if (!files) throw new PreconditionError('PAGE_NOT_BUILT', `the browser page is not built (${PAGE_DIST}/${PAGE_FILES.script} is missing)`, { hint: 'npm run build' });
    return { ...files, from: 'dist' };
  };
  if (root !== pageRoot()) return load();
  cached ??= load();
  cached.catch(() => (cached = undefined));
  return cached;
}
