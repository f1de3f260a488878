// `ima-qs package` in-process: the usage errors (no bundling happens for them), the help, and
// where the sources come from (src/ in a checkout, dist/ in an installed package, else a clear
// precondition error).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENTRIES, projectRoot, resolveEntry } from '../../../src/package/bundle.js';
import { expectNoStack, repoRoot, runCli } from '../../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'ima-package-cmd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ima-qs package (usage)', () => {
  it('needs a subcommand and names them', async () => {
    const r = await runCli(['package', '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('SUBCOMMAND_REQUIRED');
    expect(r.json().error.message).toMatch(/lambda, worker/);
  });

  it.each([
    [['package', 'worker', '--base-image', 'node:latest'], 'BAD_BASE_IMAGE'],
    [['package', 'worker', '--base-image', 'node'], 'BAD_BASE_IMAGE'],
    [['package', 'lambda', '-o', 'dist/lambda.tar'], 'BAD_OUTPUT'],
  ])('%j → exit 2 %s, one JSON document, no stack', async (argv, code) => {
    const r = await runCli([...argv, '--json'], { cwd: tmp });
    expect(r.code).toBe(2);
    expect(r.json()).toMatchObject({ ok: false, error: { code } });
    expectNoStack(r.stdout + r.stderr);
  });

  it.each([['lambda'], ['worker']])('package %s --help shows examples', async (sub) => {
    const r = await runCli(['package', sub, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`\\$ ima-qs package ${sub}`));
    expect(r.stdout).toMatch(/--json/);
  });
});

describe('bundle sources', () => {
  it('finds the project root of this checkout and its TypeScript entries', () => {
    expect(projectRoot().replace(/\/$/, '')).toBe(repoRoot.replace(/\/$/, ''));
    for (const e of Object.values(ENTRIES)) expect(resolveEntry(projectRoot(), e)).toMatchObject({ from: 'src', rel: `src/${e}.ts` });
  });

  it('falls back to dist/*.js when src/ is absent (an installed package)', () => {
    const root = join(tmp, 'installed');
    mkdirSync(join(root, 'dist/service/proxy'), { recursive: true });
    writeFileSync(join(root, 'dist/service/proxy/lambda.js'), 'export const handler = 1;\n');
    expect(resolveEntry(root, ENTRIES.lambda)).toMatchObject({ from: 'dist', rel: 'dist/service/proxy/lambda.js' });
  });

  it('says so when neither exists (NO_BUNDLE_SOURCES, exit 5)', () => {
    let err: unknown;
    try {
      resolveEntry(join(tmp, 'empty'), ENTRIES.worker);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'NO_BUNDLE_SOURCES', exitCode: 5 });
  });
});
