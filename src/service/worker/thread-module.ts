/**
 * Where a worker thread's entry module is, for the threads of the worker (pipelines, councils):
 *
 *   - from dist/*.js (the CLI) or a bundle (the worker image): the sibling .js of the caller;
 *   - from src/*.ts (tests under vitest, tsx): the built copy under dist/ when there is one
 *     (`npm test` builds first): Node 20 cannot load a .ts worker even with `--import tsx`;
 *     else the .ts itself with the tsx loader (Node ≥ 22.18 can).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ThreadModule {
  url: URL;
  execArgv?: string[];
}

/** `callerUrl`: import.meta.url of the module that starts the thread; `name`: the entry's base name; `distDir`: its folder under dist/ */
export function threadModule(callerUrl: string, name: string, distDir: string): ThreadModule {
  if (!callerUrl.endsWith('.ts')) return { url: new URL(`./${name}.js`, callerUrl) };
  const built = new URL(`../../../dist/${distDir}/${name}.js`, callerUrl);
  if (existsSync(fileURLToPath(built))) return { url: built };
  return { url: new URL(`./${name}.ts`, callerUrl), execArgv: ['--import', 'tsx'] };
}
