/**
 * Registers the command groups on the program. One file per group (STYLE.md §2); groups that
 * several files contribute to (`keys`) are created here and handed to each.
 *
 * Modules are imported only for the command being run: `ima-qs encrypt` must not pay for loading
 * the AWS SDK (≈ 100 ms and ≈ 40 MB each client) or the service. `--help`, no command, or an
 * unknown one (for the suggestion) loads them all. test/cli/commands.test.ts checks that this map
 * names every command the modules define.
 */
import type { Command } from 'commander';
import type { App } from '../cli.js';
import { UsageError } from '../errors.js';

type Registrar = (program: Command, app: App) => void;

/** In the order `ima-qs --help` lists them. */
const MODULES: [string, () => Promise<Registrar>][] = [
  ['keys', async () => {
    const [files, custody] = await Promise.all([import('./keys.js'), import('./keys-custody.js')]);
    return (program, app) => {
      const keys = program
        .command('keys')
        .description('generate, inspect and take custody of the service keys (ML-KEM-768, ML-DSA-87, ECDH P-384)');
      requireSubcommand(keys);
      files.registerKeyFiles(keys, app);
      custody.registerKeyCustody(keys, app);
    };
  }],
  ['file-crypto', async () => (await import('./file-crypto.js')).registerFileCrypto],
  ['demo', async () => (await import('../local/demo.js')).registerServiceDemo],
  ['demo-files', async () => (await import('./demo.js')).registerDemo],
  ['tpm', async () => (await import('./tpm.js')).registerTpm],
  ['audit', async () => (await import('./audit.js')).registerAudit],
  ['local', async () => (await import('./local.js')).registerLocal],
  ['request', async () => (await import('./request.js')).registerRequest],
  ['vote', async () => (await import('./vote.js')).registerVote],
  ['loadtest', async () => (await import('./loadtest.js')).registerLoadtest],
  ['rollout', async () => (await import('./rollout.js')).registerRollout],
  ['package', async () => (await import('./package.js')).registerPackage],
];

/** Top-level command name → the module that defines it. */
export const COMMAND_MODULE: Readonly<Record<string, string>> = {
  keys: 'keys',
  encrypt: 'file-crypto',
  decrypt: 'file-crypto',
  sign: 'file-crypto',
  verify: 'file-crypto',
  demo: 'demo',
  'demo-files': 'demo-files',
  tpm: 'tpm',
  audit: 'audit',
  local: 'local',
  request: 'request',
  vote: 'vote',
  loadtest: 'loadtest',
  rollout: 'rollout',
  package: 'package',
};

/** A bare group (`ima-qs keys`) is a usage error that lists what it offers. */
export function requireSubcommand(group: Command): void {
  group.action(() => {
    const names = group.commands.map((c) => c.name());
    throw new UsageError('SUBCOMMAND_REQUIRED', `'${group.name()}' needs a subcommand${names.length ? `: one of ${names.join(', ')}` : ''}`, {
      hint: `see 'ima-qs ${group.name()} --help'`,
    });
  });
}

/**
 * Registers what `argv` needs: the module of its command, or every module when there is no
 * known command (help, a typo that deserves a suggestion).
 */
export async function registerCommands(program: Command, app: App, argv: readonly string[]): Promise<void> {
  // the program's own options take no value, so the first word that is not an option is the command
  const first = argv.find((a) => !a.startsWith('-'));
  const only = first !== undefined ? COMMAND_MODULE[first] : undefined;
  // `ima-qs --version` needs no command at all
  const versionOnly = first === undefined && argv.some((a) => a === '-V' || a === '--version');
  const chosen = versionOnly ? [] : MODULES.filter(([name]) => only === undefined || name === only);
  const registrars = await Promise.all(chosen.map(([, load]) => load()));
  for (const register of registrars) register(program, app);
}
