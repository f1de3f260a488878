// The pure core must bundle for a browser (DESIGN.md "Providers"): the noble provider and every
// module above it (composite KEM, key codec, signatures, canonical JSON) with no `node:` import.
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

describe('browser bundle of the pure crypto core', () => {
  it('esbuild --platform=browser bundles it without node built-ins', async () => {
    const entry = [
      'provider-noble',
      'composite-kem',
      'key-codec',
      'signature',
      'canonical-json',
      'bytes',
      'der',
    ]
      .map((m) => `export * from './src/crypto/${m}.ts';`)
      .join('\n');
    const out = await build({
      stdin: { contents: entry, resolveDir: repoRoot, loader: 'ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(out.errors).toEqual([]);
    const text = out.outputFiles[0].text;
    expect(text).not.toMatch(/from\s*["']node:/);
    expect(text).toContain('MLKEM768-P384');
  });
});
