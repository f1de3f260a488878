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
import { registerServiceDemo } from '../local/demo.js';
import { registerKeyCustody } from './keys-custody.js';
import { registerRollout } from './rollout.js';
import { registerAudit } from './audit.js';
import { registerLocal } from './local.js';
import { registerRequest } from './request.js';
import { registerLoadtest } from './loadtest.js';
import { registerPackage } from './package.js';

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
  // key files (generate, show):         registerKeyFiles(keys, app)      — src/commands/keys.ts
  registerKeyFiles(keys, app);
  // key custody (upload, status, ...):  registerKeyCustody(keys, app)    — src/commands/keys-custody.ts
  registerKeyCustody(keys, app);
  // file crypto (encrypt, decrypt, sign, verify): registerFileCrypto(program, app) — src/commands/file-crypto.ts
  registerFileCrypto(program, app);
  registerServiceDemo(program, app);
  registerDemo(program, app);
  // tpm:                                registerTpm(program, app)        — src/commands/tpm.ts
  registerTpm(program, app);
  registerRollout(program, app);
  registerAudit(program, app);
  // local up, request, loadtest:     src/commands/{local,request,loadtest}.ts
  registerLocal(program, app);
  registerRequest(program, app);
  registerLoadtest(program, app);
  registerPackage(program, app);
}
