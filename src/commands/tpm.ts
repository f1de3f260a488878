/**
 * `ima-qs tpm read | extend | quote | verify-quote | replay | doctor` (SPEC §6). Thin: parse flags,
 * open a `PcrBank` (tpm2-tools, or the simulated bank only when --simulated names a state file),
 * call src/tpm, render. Every output says whether the bank is SIMULATED.
 */
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import type { App } from '../cli.js';
import { InputError, RemoteError, UsageError } from '../errors.js';
import { readInputFile } from '../io/files.js';
import { type CommandResult, table } from '../output.js';
import { PcrAnchor, eventDigests } from '../tpm/anchor.js';
import { runDoctor } from '../tpm/doctor.js';
import { EventLog } from '../tpm/event-log.js';
import type { BankDescription } from '../tpm/pcr-bank.js';
import { type Bank, checkDigest, parseHex, toHex } from '../tpm/pcr-math.js';
import type { SimulatedBank } from '../tpm/simulated-bank.js';
import type { Tpm2ToolsBank } from '../tpm/tpm2-tools.js';
import { requireSubcommand } from './index.js';
import { registerTpmAttest } from './tpm-attest.js';
import { type BankFlags, backendLine, bankOptions, hexAll, open, resolvePath } from './tpm-flags.js';


export const MAX_DATA_BYTES = 64 * 1024 * 1024;

export function registerTpm(program: Command, app: App): void {
  const tpm = program
    .command('tpm')
    .description('anchor decisions in a TPM PCR: read, extend, quote, verify quotes, replay the event log, doctor');
  requireSubcommand(tpm);

  bankOptions(
    app.command(tpm, {
      name: 'read',
      description: 'read one PCR in each bank',
      examples: [
        'ima-qs tpm read',
        'ima-qs tpm read --pcr 11 --bank sha256 --json',
        'ima-qs tpm read --tcti swtpm:path=/run/swtpm/tpm.sock',
        'ima-qs tpm read --simulated pcrs.json',
      ],
    }),
    'sha256,sha384',
  ).action(
    app.action(async (o: BankFlags) => {
      const { bank, pcr, banks } = open(o, app.deps, 'sha256,sha384');
      const values = await bank.read(pcr, banks);
      return valuesResult(bank.describe(), pcr, { values: hexAll(values) }, banks.map((b) => [b, toHex(values[b])]));
    }),
  );

  bankOptions(
    app.command(tpm, {
      name: 'extend',
      description: 'extend one PCR with a digest (or a file’s digest) and log the event',
      examples: [
        'ima-qs tpm extend --data decision.json --event-log /var/lib/ima-qs/pcr11.log',
        'ima-qs tpm extend --digest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --event-log pcr11.log',
        'ima-qs tpm extend --bank sha256,sha384 --data report.pdf --type ima-qs/file --json',
        'ima-qs tpm extend --simulated pcrs.json --data decision.json --event-log sim.log',
      ],
      notes: 'Without --event-log the extend is not recorded anywhere and cannot be replayed later.',
    }),
    'sha256',
  )
    .option('--digest <hex>', 'the digest to extend with (one bank: 64 hex digits for sha256, 96 for sha384)')
    .option('--data <file>', 'extend with the hash of this file (per bank)')
    .option('--type <type>', 'event type recorded in the event log', 'ima-qs/manual')
    .option('--event-log <file>', 'append the event to this log (SPEC §6.2)')
    .action(
      app.action(async (o: BankFlags & { digest?: string; data?: string; type: string; eventLog?: string }) => {
        if (Boolean(o.digest) === Boolean(o.data)) {
          throw new UsageError('USAGE', 'give exactly one of --digest HEX or --data FILE');
        }
        const { bank, pcr, banks } = open(o, app.deps, 'sha256');
        let event: { type: string; data: Uint8Array } | { type: string; digests: Partial<Record<Bank, Uint8Array>> };
        if (o.digest) {
          if (banks.length !== 1) {
            throw new InputError('DIGEST_NEEDS_ONE_BANK', '--digest gives one digest, for exactly one bank', {
              hint: 'pass one --bank, or use --data FILE to hash the file in every bank',
            });
          }
          event = { type: o.type, digests: { [banks[0]]: checkDigest(banks[0], parseHex(o.digest, '--digest'), '--digest') } };
        } else {
          event = { type: o.type, data: await readInputFile(resolvePath(app.deps, o.data!), MAX_DATA_BYTES, 'file to measure') };
        }
        if (o.eventLog) {
          const anchor = new PcrAnchor(bank, new EventLog(resolvePath(app.deps, o.eventLog)), { pcr, banks, now: app.deps.now });
          const r = await anchor.extendEvent(event);
          return valuesResult(
            bank.describe(),
            pcr,
            { extended: hexAll(r.extended), after: hexAll(r.after), eventLog: { path: o.eventLog, seq: r.positions[0].seq } },
            banks.map((b) => [b, toHex(r.after[b])]),
            `logged as seq ${r.positions[0].seq} in ${o.eventLog}`,
          );
        }
        const digests = eventDigests(event, banks);
        await bank.extend(pcr, digests);
        const after = await bank.read(pcr, banks);
        return valuesResult(
          bank.describe(),
          pcr,
          { extended: hexAll(digests), after: hexAll(after), eventLog: null },
          banks.map((b) => [b, toHex(after[b])]),
          'not logged (no --event-log): this extend cannot be replayed',
        );
      }),
    );

  bankOptions(
    app.command(tpm, {
      name: 'doctor',
      description: 'check this host: tools, TPM, banks, PCR 11 use by systemd, AWS Fargate',
      examples: ['ima-qs tpm doctor', 'ima-qs tpm doctor --tcti swtpm:path=/tmp/tpm.sock --json', 'ima-qs tpm doctor --pcr 15'],
      notes: 'Exit code 4 when a row fails; warnings do not change the exit code.',
    }),
    'sha256',
  ).action(
    app.action(async (o: BankFlags) => {
      const { bank, pcr, timeoutMs } = open(o, app.deps, 'sha256');
      const rows = await runDoctor({
        bank: bank as Tpm2ToolsBank | SimulatedBank,
        env: app.deps.env,
        pcr,
        timeoutMs,
        probe: { exists: (p) => stat(p).then(() => true, () => false) },
      });
      const failed = rows.filter((r) => r.status === 'fail');
      const human =
        table(['check', 'status', 'detail'], rows.map((r) => [r.check, r.status.toUpperCase(), r.detail])) +
        '\n' +
        rows.filter((r) => r.hint && r.status !== 'pass').map((r) => `hint (${r.check}): ${r.hint}`).join('\n');
      return {
        data: { pcr, backend: bank.describe(), simulated: bank.describe().simulated, rows },
        human,
        failure: failed.length
          ? new RemoteError('TPM_DOCTOR_FAILED', `${failed.length} check(s) failed: ${failed.map((r) => r.check).join(', ')}`, {
              hint: failed[0].hint,
            })
          : undefined,
      };
    }),
  );

  registerTpmAttest(tpm, app);
}

function valuesResult(
  d: BankDescription,
  pcr: number,
  data: Record<string, unknown>,
  rows: [string, string][],
  note?: string,
): CommandResult {
  const source = d.simulated ? 'SIMULATED' : 'tpm';
  const human =
    table(['pcr', 'bank', 'value', 'source'], rows.map(([b, v]) => [pcr, b, v, source])) +
    `\n${backendLine(d)}` +
    (note ? `\n${note}` : '');
  return { data: { pcr, ...data, backend: d, simulated: d.simulated }, human };
}
