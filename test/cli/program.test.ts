import { describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';

describe('the program', () => {
  it('prints help with examples and exit codes, exit 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('Exit codes');
  });

  it('a usage error is exit 2 in our format, with a hint', async () => {
    const r = await runCli(['no-such-command']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ima-qs: error: /m);
    expect(r.stderr).toMatch(/^ima-qs: hint: /m);
    expect(r.stdout).toBe('');
    expectNoStack(r.stderr);
  });

  it('with --json a usage error is one JSON document on stdout', async () => {
    const r = await runCli(['no-such-command', '--json']);
    expect(r.code).toBe(2);
    expect(r.json()).toMatchObject({ ok: false, error: { code: 'USAGE' } });
  });

  it('a group without a subcommand is a usage error', async () => {
    const r = await runCli(['keys']);
    expect(r.code).toBe(2);
  });
});
