/**
 * Registers every command group on the program. One file per group (STYLE.md §2); groups that
 * several files contribute to (`keys`) are created here and handed to each.
 */
import type { Command } from 'commander';
import type { App } from '../cli.js';
import { UsageError } from '../errors.js';
import { registerTpm } from './tpm.js';
import { registerKeyFiles } from './keys.js';
import { registerFileCrypto } from './file-crypto.js';
import { registerDemo } from './demo.js';
import { registerKeyCustody } from './keys-custody.js';
import { registerRollout } from './rollout.js';

/** A bare group (`ima-qs keys`) is a usage error that lists what it offers. */
export function requireSubcommand(group: Command): void {
  group.action(() => {
    const names = group.commands.map((c) => c.name());
    throw new UsageError('SUBCOMMAND_REQUIRED', `'${group.name()}' needs a subcommand${names.length ? `: one of ${names.join(', ')}` : ''}`, {
      hint: `see 'ima-qs ${group.name()} --help'`,
    });
  });
}

export function registerCommands(program: Command, app: App): void {
  const keys = program
    .command('keys')
    .description('generate, inspect and take custody of the service keys (ML-KEM-768, ML-DSA-87, ECDH P-384)');
  requireSubcommand(keys);
  registerKeyFiles(keys, app);
  registerKeyCustody(keys, app);
  registerFileCrypto(program, app);
  registerDemo(program, app);
  registerTpm(program, app);
  registerRollout(program, app);
}
