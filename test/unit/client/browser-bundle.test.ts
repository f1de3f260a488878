// The request client must run in a browser (issue 6 §2): bundling src/client/index.ts for the
// browser platform succeeds, and nothing in its import graph is a `node:` module or a Node
// built-in. esbuild fails the build on an unresolvable built-in for --platform=browser, and we
// also scan the output, so a dynamic `import('node:…')` would be caught too.
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../helpers/cli.js';

describe('browser bundle of the request client', () => {
  it('esbuild --platform=browser bundles src/client/index.ts with no node: import', async () => {
    const out = await build({
      entryPoints: [`${repoRoot}/src/client/index.ts`],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(out.errors).toEqual([]);
    const text = out.outputFiles[0].text;
    expect(text).not.toMatch(/["']node:/);
    expect(text).not.toMatch(/\brequire\(["'](crypto|fs|http|https|net|os|path|child_process|worker_threads)["']\)/);
    // the graph really contains the client, the verifier and the noble provider
    const inputs = Object.keys(out.metafile!.inputs);
    expect(inputs.some((f) => f.endsWith('src/client/black-box-client.ts'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('src/protocol/response-verify.ts'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('src/crypto/provider-noble.ts'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('src/crypto/provider-node.ts'))).toBe(false);
    expect(text).toContain('ima-qs/v1/decision');
  });
});
