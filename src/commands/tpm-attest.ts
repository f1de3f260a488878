/**
 * `ima-qs tpm quote | verify-quote | replay` (SPEC §6.3, §6.5): evidence that a PCR holds what the
 * event log says. verify-quote and the log checks of replay are pure (src/tpm/quote.ts, replay.ts);
 * a "no" is exit 1 with the table still printed.
 */
import type { Command } from 'commander';
import type { App } from '../cli.js';
import { InputError, VerificationError } from '../errors.js';
import { readInputFile, writeFileAtomic } from '../io/files.js';
import { table } from '../output.js';
import { EventLog } from '../tpm/event-log.js';
import { type Bank, parseHex, toHex } from '../tpm/pcr-math.js';
import { parseQuoteDoc, quoteDoc, verifyQuote, type QuoteVerdict } from '../tpm/quote.js';
import { compareWithActual, replayLog } from '../tpm/replay.js';
import { type BankFlags, backendLine, bankOptions, hexAll, open, resolvePath } from './tpm-flags.js';

const MAX_QUOTE_FILE = 64 * 1024;
const MAX_PEM = 16 * 1024;

/** A verifier's nonce: 8 to 64 bytes (TPM2B_DATA holds at most a TPMT_HA; 16+ recommended). */
function parseNonce(hex: string): Uint8Array {
  const n = parseHex(hex, '--nonce');
  if (n.length < 8 || n.length > 64) {
    throw new InputError('BAD_NONCE', `--nonce is ${n.length} bytes; a quote nonce is 8 to 64 bytes (16 to 128 hex digits)`, {
      hint: 'use a fresh random value, e.g. `openssl rand -hex 32`',
    });
  }
  return n;
}

export function registerTpmAttest(tpm: Command, app: App): void {
  bankOptions(
    app.command(tpm, {
      name: 'quote',
      description: 'have the TPM sign the PCR values with its attestation key, for a verifier’s nonce',
      examples: [
        'ima-qs tpm quote --nonce $(openssl rand -hex 32) -o quote.json',
        'ima-qs tpm quote --pcr 11 --bank sha256,sha384 --nonce 0011223344556677 -o quote.json --json',
      ],
      notes:
        'The attestation key (RSA-2048, restricted signing, under the endorsement key) is kept at a persistent\n' +
        'handle (--ak-handle, default 0x81010002) and created there on first use.',
    }),
    'sha256',
  )
    .requiredOption('--nonce <hex>', 'the verifier’s fresh nonce, 8-64 bytes of hex')
    .requiredOption('-o, --out <file>', 'write QUOTE.json here')
    .option('--ak-handle <handle>', 'persistent handle of the attestation key', '0x81010002')
    .option('--force', 'overwrite --out if it exists')
    .action(
      app.action(async (o: BankFlags & { nonce: string; out: string; force?: boolean }) => {
        const nonce = parseNonce(o.nonce);
        const { bank, pcr, banks } = open(o, app.deps, 'sha256');
        const q = await bank.quote(pcr, banks, nonce);
        const d = bank.describe();
        const doc = quoteDoc(q, pcr, banks, nonce, app.deps.now?.() ?? new Date(), d.tcti);
        await writeFileAtomic(resolvePath(app.deps, o.out), JSON.stringify(doc, null, 2) + '\n', { force: o.force });
        const human =
          table(['pcr', 'bank', 'quoted value'], banks.map((b) => [pcr, b, toHex(q.values[b])])) +
          `\n${backendLine(d)}\nattestation key ${q.akHandle}${q.akCreated ? ' (created now)' : ''}, sha256 fingerprint ${doc.akFingerprint}` +
          `\nwrote ${o.out}`;
        return {
          data: { pcr, banks, values: doc.values, out: o.out, akHandle: q.akHandle, akCreated: q.akCreated, akFingerprint: doc.akFingerprint, backend: d, simulated: false },
          human,
        };
      }),
    );

  app
    .command(tpm, {
      name: 'verify-quote',
      description: 'verify a QUOTE.json: signature, nonce, PCR selection and digest',
      examples: [
        'ima-qs tpm verify-quote quote.json --nonce 0011223344556677 --ak ak.pem',
        'ima-qs tpm verify-quote quote.json --nonce 0011223344556677 --json',
      ],
      notes: 'Without --ak the key inside QUOTE.json is used: that proves consistency, not which TPM signed.',
    })
    .argument('<quote>', 'QUOTE.json written by `ima-qs tpm quote`')
    .requiredOption('--nonce <hex>', 'the nonce you gave to `tpm quote`')
    .option('--ak <pem>', 'the attestation key public PEM you trust (pins the TPM)')
    .action(
      app.action(async (file: string, o: { nonce: string; ak?: string }) => {
        const { doc, verdict } = await loadAndVerify(app, file, parseNonce(o.nonce), o.ak);
        return {
          data: { quote: file, pcr: doc.pcr, values: doc.values, checks: verdict.checks, akSelfAsserted: verdict.akSelfAsserted, simulated: false },
          human: table(['check', 'result', 'detail'], verdict.checks.map((c) => [c.check, c.ok ? 'ok' : 'FAIL', c.detail])),
          failure: verdict.ok ? undefined : new VerificationError('QUOTE_INVALID', `${file} does not verify: ${failedNames(verdict)}`),
        };
      }),
    );

  bankOptions(
    app.command(tpm, {
      name: 'replay',
      description: 'recompute the PCR from the event log and compare it with the TPM (or a quote)',
      examples: [
        'ima-qs tpm replay --event-log /var/lib/ima-qs/pcr11.log',
        'ima-qs tpm replay --event-log pcr11.log --quote quote.json --nonce 0011223344556677 --ak ak.pem',
        'ima-qs tpm replay --event-log sim.log --simulated pcrs.json --json',
      ],
      notes: 'Exit 1 on a mismatch, naming the first record where the log and the PCR part ways.',
    }),
    'sha256',
  )
    .requiredOption('--event-log <file>', 'the event log to replay')
    .option('--quote <file>', 'compare with the values of this quote (verified first) instead of reading the TPM')
    .option('--nonce <hex>', 'with --quote: the nonce it must carry (default: the one inside it)')
    .option('--ak <pem>', 'with --quote: the attestation key to pin')
    .action(
      app.action(async (o: BankFlags & { eventLog: string; quote?: string; nonce?: string; ak?: string }) => {
        const lines = await new EventLog(resolvePath(app.deps, o.eventLog)).readAll();
        if (lines.length === 0) throw new InputError('EMPTY_EVENT_LOG', `${o.eventLog} is empty or missing: nothing to replay`);
        let res = replayLog(lines);
        let actual: Partial<Record<Bank, Uint8Array>> | undefined;
        let against: string;
        let simulated = false;
        let backend: unknown;
        if (o.quote) {
          const { doc, verdict } = await loadAndVerify(app, o.quote, o.nonce ? parseNonce(o.nonce) : undefined, o.ak);
          if (!verdict.ok) throw new VerificationError('QUOTE_INVALID', `${o.quote} does not verify: ${failedNames(verdict)}`);
          if (res.pcr !== undefined && doc.pcr !== res.pcr) {
            throw new InputError('QUOTE_OTHER_PCR', `${o.quote} quotes pcr ${doc.pcr}, the log records pcr ${res.pcr}`);
          }
          actual = {};
          for (const b of doc.banks) actual[b] = parseHex(doc.values[b]!, `${b} value`);
          against = `quote ${o.quote}${verdict.akSelfAsserted ? ' (attestation key not pinned)' : ''}`;
        } else {
          const { bank } = open({ ...o, pcr: String(res.pcr ?? o.pcr) }, app.deps, 'sha256');
          backend = bank.describe();
          simulated = bank.describe().simulated;
          if (res.pcr !== undefined && res.banks.length > 0) actual = await bank.read(res.pcr, res.banks);
          against = backendLine(bank.describe());
        }
        if (actual) res = compareWithActual(res, actual, lines);
        const div = res.firstDivergence;
        const rows = res.banks.map((b) => [b, res.expected?.[b] ? toHex(res.expected[b]!) : '-', actual?.[b] ? toHex(actual[b]!) : '-']);
        let human = `replayed ${res.events} event(s) in ${res.batches} batch(es) of pcr ${res.pcr ?? '?'} against ${against}\n`;
        human += table(['bank', 'replayed', 'actual'], rows);
        if (div) human += `\nfirst divergence: seq ${div.seq} (line ${div.line}${div.type ? `, event ${div.type}` : ''}): ${div.reason}: ${div.message}`;
        return {
          data: {
            eventLog: o.eventLog,
            pcr: res.pcr,
            events: res.events,
            batches: res.batches,
            expected: res.expected ? hexAll(res.expected) : null,
            actual: actual ? hexAll(actual) : null,
            against: o.quote ? { quote: o.quote } : { backend },
            match: !div,
            firstDivergence: div ?? null,
            simulated,
          },
          human,
          failure: div
            ? new VerificationError('REPLAY_MISMATCH', `the event log and the pcr disagree from seq ${div.seq}${div.type ? ` (${div.type})` : ''}: ${div.reason}`, {
                details: { firstDivergence: div },
              })
            : undefined,
        };
      }),
    );
}

async function loadAndVerify(app: App, file: string, nonce: Uint8Array | undefined, akPath?: string) {
  const text = (await readInputFile(resolvePath(app.deps, file), MAX_QUOTE_FILE, 'quote file', { tooLargeCode: 'BAD_QUOTE_FILE' })).toString('utf8');
  const doc = parseQuoteDoc(text, file);
  const akPem = akPath ? (await readInputFile(resolvePath(app.deps, akPath), MAX_PEM, 'public key PEM')).toString('utf8') : undefined;
  const verdict: QuoteVerdict = verifyQuote(doc, { nonce: nonce ?? parseHex(doc.nonce, 'nonce'), akPem });
  return { doc, verdict };
}

function failedNames(v: QuoteVerdict): string {
  return v.checks.filter((c) => !c.ok).map((c) => c.check).join(', ');
}
