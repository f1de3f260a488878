// The command surface as a whole: every leaf command has --json and examples in its --help, and
// the lazy-loading map in src/commands/index.ts names every top-level command the modules define.
import type { Command } from 'commander';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { COMMAND_MODULE } from '../../src/commands/index.js';
import type { CliDeps } from '../../src/context.js';
import { runCli } from '../helpers/cli.js';

const deps: CliDeps = {
  stdout: { write: () => true },
  stderr: { write: () => true },
  stdin: Readable.from([]),
  env: {},
  cwd: process.cwd(),
  interactive: false,
};

function leaves(cmd: Command, path: string[] = []): { path: string[]; cmd: Command }[] {
  if (cmd.commands.length === 0) return [{ path, cmd }];
  return cmd.commands.flatMap((c) => leaves(c, [...path, c.name()]));
}

describe('the command surface', async () => {
  const { program } = await buildProgram(deps);
  const all = leaves(program);

  it('has the commands the mission names', () => {
    const names = all.map((l) => l.path.join(' '));
    for (const n of [
      'keys generate', 'keys show', 'keys upload', 'keys status', 'keys rotate', 'keys fetch',
      'encrypt', 'decrypt', 'sign', 'verify',
      'tpm read', 'tpm extend', 'tpm quote', 'tpm verify-quote', 'tpm replay', 'tpm doctor',
      'audit tail', 'audit verify', 'audit show',
      'rollout day', 'rollout status', 'rollout rollback',
      'local up', 'request analyze', 'request patents', 'loadtest', 'demo',
      'package lambda', 'package worker',
    ]) {
      expect(names).toContain(n);
    }
  });

  it('the lazy-loading map covers every top-level command', () => {
    expect(Object.keys(COMMAND_MODULE).sort()).toEqual(program.commands.map((c) => c.name()).sort());
  });

  it.each(all.map((l) => [l.path.join(' '), l.cmd] as const))('%s has --json and --help examples', async (name) => {
    const r = await runCli([...name.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--json');
    expect(r.stdout).toMatch(/Examples:\n {2}\$ ima-qs /);
  });
});
