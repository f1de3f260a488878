/**
 * Builds the commander program and runs it. This is the one place where errors become exit codes
 * (STYLE.md §2–3): commands return a `CommandResult` or throw an `ImaError`; nothing below here
 * calls `process.exit` or writes to `process.stdout`.
 */
import { Command, CommanderError, Option } from 'commander';
import type { CliDeps } from './context.js';
import { ExitCode, ImaError, UsageError, toImaError } from './errors.js';
import { type CommandResult, writeError, writeJson } from './output.js';
import { registerCommands } from './commands/index.js';

export const VERSION = '0.1.0';

/** Handed to every command module. */
export interface App {
  readonly deps: CliDeps;
  /** Wraps a command's action: runs it, renders its result (table or --json), records the exit code. */
  action<A extends unknown[]>(fn: (...args: A) => Promise<CommandResult>): (...args: A) => Promise<void>;
  /**
   * Asks for confirmation. `--yes` answers yes; with `--json` or without a terminal there is no
   * one to ask, so it fails with a usage error that names the flag (STYLE.md §6).
   */
  confirm(message: string, opts: { yes?: boolean; json?: boolean; flag?: string }): Promise<boolean>;
  /** Adds a leaf command with `--json` and a help text with examples. */
  command(parent: Command, spec: CommandSpec): Command;
}

export interface CommandSpec {
  name: string;
  description: string;
  examples: string[];
  /** extra paragraphs after the examples in --help */
  notes?: string;
}

interface RunState {
  exitCode: ExitCode | number;
  json: boolean;
}

/** The program, with the commands `argv` needs registered (all of them when argv is empty). */
export async function buildProgram(deps: CliDeps, argv: readonly string[] = []): Promise<{ program: Command; state: RunState }> {
  const state: RunState = { exitCode: ExitCode.OK, json: false };
  const program = new Command('ima-qs');

  const app: App = {
    deps,
    action(fn) {
      return async (...args) => {
        // commander passes (...positionals, options, command)
        const cmd = args[args.length - 1] as Command;
        const json = Boolean(cmd?.optsWithGlobals?.().json);
        state.json = json;
        try {
          const result = await fn(...args);
          render(deps, result, json);
          state.exitCode = result.failure ? result.failure.exitCode : ExitCode.OK;
        } catch (err) {
          const e = toImaError(err);
          reportError(deps, e, json);
          state.exitCode = e.exitCode;
        }
      };
    },
    async confirm(message, { yes, json, flag = '--yes' }) {
      if (yes) return true;
      if (json || !deps.interactive || !deps.confirm) {
        throw new UsageError('CONFIRMATION_REQUIRED', `${message.replace(/\?$/, '')}: confirmation required`, {
          hint: `no terminal to ask on: pass ${flag} to confirm from a script`,
        });
      }
      return deps.confirm(message);
    },
    command(parent, spec) {
      const cmd = parent
        .command(spec.name)
        .description(spec.description)
        .option('--json', 'print one JSON document on stdout (everything else goes to stderr)');
      let help = '\nExamples:\n' + spec.examples.map((e) => `  $ ${e}`).join('\n') + '\n';
      if (spec.notes) help += '\n' + spec.notes.trim() + '\n';
      cmd.addHelpText('after', help);
      configure(cmd, deps);
      return cmd;
    },
  };

  program
    .description('operate a quantum-safe black-box decision service: keys, hybrid PQ crypto, TPM audit, rollout')
    .version(VERSION, '-V, --version')
    .addOption(new Option('--json', 'print one JSON document on stdout').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  $ ima-qs keys generate --out quantum_keys
  $ ima-qs encrypt --to quantum_keys -o secret.ima report.pdf
  $ ima-qs decrypt --identity quantum_keys -o report.pdf secret.ima
  $ ima-qs sign --key quantum_keys -o report.pdf.sig report.pdf
  $ ima-qs verify report.pdf --signature report.pdf.sig --key quantum_keys

Exit codes: 0 ok · 1 verification or decryption said no · 2 usage · 3 bad input ·
            4 remote/device failure (AWS, TPM) · 5 rollout precondition · 70 internal bug`,
    );
  configure(program, deps);
  await registerCommands(program, app, argv);
  return { program, state };
}

function configure(cmd: Command, deps: CliDeps): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => deps.stdout.write(s),
    writeErr: (s) => deps.stderr.write(s),
    // usage errors are reported by run() in our own format (and as JSON with --json)
    outputError: () => {},
  });
  cmd.showSuggestionAfterError(true);
}

function render(deps: CliDeps, result: CommandResult, json: boolean): void {
  if (json) {
    const doc = result.failure
      ? { ok: false, error: result.failure.toJSON(), ...result.data }
      : { ok: true, ...result.data };
    writeJson(deps.stdout, doc);
    return;
  }
  if (result.human) deps.stdout.write(result.human.endsWith('\n') ? result.human : result.human + '\n');
  if (result.failure) writeError(deps.stderr, result.failure);
}

function reportError(deps: CliDeps, e: ImaError, json: boolean): void {
  if (json) writeJson(deps.stdout, { ok: false, error: e.toJSON() });
  writeError(deps.stderr, e);
  if (e.errorClass === 'internal' && deps.env.IMA_QS_DEBUG) {
    const cause = (e as { cause?: unknown }).cause;
    deps.stderr.write(`${cause instanceof Error ? cause.stack : String(cause)}\n`);
  }
}

/** Runs the program on argv (without node and script) and returns the exit code. */
export async function run(argv: string[], deps: CliDeps): Promise<number> {
  const json = argv.includes('--json');
  try {
    const { program, state } = await buildProgram(deps, argv);
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.OK;
      const message =
        err.code === 'commander.help'
          ? 'a subcommand is required'
          : err.message.replace(/^error:\s*/i, '').replace(/\.$/, '');
      const e = new UsageError('USAGE', message, { hint: "see 'ima-qs --help' or 'ima-qs COMMAND --help'" });
      reportError(deps, e, json);
      return ExitCode.USAGE;
    }
    const e = toImaError(err);
    reportError(deps, e, json);
    return e.exitCode;
  }
}
