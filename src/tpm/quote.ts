/**
 * Quotes (SPEC §6.5): the QUOTE.json document, parsing of the signed TPMS_ATTEST structure
 * (TPM 2.0 Library Part 2 §10.12.8, §10.12.12) and its verification with node:crypto. Pure and
 * synchronous: reading files and the TPM happens in the caller.
 *
 * A quote proves "this TPM's AK signed these PCR values for your nonce" only when all hold:
 * the signature verifies under a pinned AK; magic = TPM_GENERATED_VALUE and type = ATTEST_QUOTE;
 * extraData = the verifier's fresh nonce; the attested selection is the one claimed; and the
 * attested pcrDigest = SHA-256 of the claimed values (in selection order, Part 1 §18.4.2).
 */
import { createHash, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';
import { type Bank, DIGEST_SIZE, isBank, parseHex, toHex } from './pcr-math.js';
import type { QuoteResult } from './pcr-bank.js';
import { parseStrictJson } from '../protocol/strict-json.js';

export const QUOTE_FORMAT = 'ima-qs/tpm-quote/v1';
export const TPM_GENERATED_VALUE = 0xff544347;
export const TPM_ST_ATTEST_QUOTE = 0x8018;
/** TPM_ALG_ID of each bank (Part 2 §6.3). */
export const ALG_ID: Readonly<Record<Bank, number>> = Object.freeze({ sha256: 0x000b, sha384: 0x000c });
const ALG_NAME: Record<number, string> = { 0x0004: 'sha1', 0x000b: 'sha256', 0x000c: 'sha384', 0x000d: 'sha512' };

export interface QuoteDoc {
  format: typeof QUOTE_FORMAT;
  simulated: false;
  pcr: number;
  banks: Bank[];
  /** PCR values (lowercase hex) as read with the quote */
  values: Partial<Record<Bank, string>>;
  nonce: string;
  /** TPMS_ATTEST, hex */
  message: string;
  /** RSASSA-PKCS1-v1_5 / SHA-256 signature, hex */
  signature: string;
  signatureScheme: 'rsassa-sha256';
  akPem: string;
  akHandle: string;
  /** SHA-256 of the AK's SPKI DER, hex */
  akFingerprint: string;
  /** tpm2-tools PCR file for `tpm2_checkquote -f`, hex (informative) */
  toolsPcrs?: string;
  tcti?: string;
  time: string;
}

export interface Attest {
  magic: number;
  type: number;
  qualifiedSigner: Uint8Array;
  extraData: Uint8Array;
  clock: bigint;
  resetCount: number;
  restartCount: number;
  safe: boolean;
  firmwareVersion: bigint;
  selection: { alg: string; algId: number; pcrs: number[] }[];
  pcrDigest: Uint8Array;
}

export function akFingerprint(akPem: string): string {
  const der = createPublicKey(akPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

export function quoteDoc(q: QuoteResult, pcr: number, banks: Bank[], nonce: Uint8Array, now: Date, tcti?: string): QuoteDoc {
  const values: Partial<Record<Bank, string>> = {};
  for (const b of banks) values[b] = toHex(q.values[b]);
  return {
    format: QUOTE_FORMAT,
    simulated: false,
    pcr,
    banks,
    values,
    nonce: toHex(nonce),
    message: toHex(q.message),
    signature: toHex(q.signature),
    signatureScheme: 'rsassa-sha256',
    akPem: q.akPem,
    akHandle: q.akHandle,
    akFingerprint: akFingerprint(q.akPem),
    ...(q.toolsPcrs ? { toolsPcrs: toHex(q.toolsPcrs) } : {}),
    ...(tcti ? { tcti } : {}),
    time: now.toISOString(),
  };
}

/** Parses TPMS_ATTEST; a truncated or over-long structure is an InputError. */
export function parseAttest(msg: Uint8Array): Attest {
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  let o = 0;
  const need = (n: number) => {
    if (o + n > msg.length) throw new InputError('BAD_QUOTE_MESSAGE', `quote message truncated at byte ${o} (${msg.length} bytes)`);
  };
  const u8 = () => (need(1), dv.getUint8(o++));
  const u16 = () => (need(2), (o += 2), dv.getUint16(o - 2));
  const u32 = () => (need(4), (o += 4), dv.getUint32(o - 4));
  const u64 = () => (need(8), (o += 8), dv.getBigUint64(o - 8));
  const b2 = () => {
    const n = u16();
    need(n);
    o += n;
    return msg.slice(o - n, o);
  };
  const magic = u32();
  const type = u16();
  const qualifiedSigner = b2();
  const extraData = b2();
  const clock = u64();
  const resetCount = u32();
  const restartCount = u32();
  const safe = u8() !== 0;
  const firmwareVersion = u64();
  if (type !== TPM_ST_ATTEST_QUOTE) {
    return { magic, type, qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, selection: [], pcrDigest: new Uint8Array() };
  }
  const count = u32();
  if (count > 16) throw new InputError('BAD_QUOTE_MESSAGE', `quote selects ${count} banks (at most 16)`);
  const selection: Attest['selection'] = [];
  for (let i = 0; i < count; i++) {
    const algId = u16();
    const size = u8();
    need(size);
    const pcrs: number[] = [];
    for (let byte = 0; byte < size; byte++) {
      const bits = dv.getUint8(o + byte);
      for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) pcrs.push(byte * 8 + bit);
    }
    o += size;
    selection.push({ alg: ALG_NAME[algId] ?? `0x${algId.toString(16)}`, algId, pcrs });
  }
  const pcrDigest = b2();
  if (o !== msg.length) throw new InputError('BAD_QUOTE_MESSAGE', `quote message has ${msg.length - o} bytes after its end`);
  return { magic, type, qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, selection, pcrDigest };
}

/** SHA-256 over the selected PCR values, banks in selection order (Part 1 §18.4.2). */
export function pcrDigestOf(banks: Bank[], values: Partial<Record<Bank, Uint8Array>>): Uint8Array {
  const h = createHash('sha256');
  for (const b of banks) h.update(values[b]!);
  return new Uint8Array(h.digest());
}

export interface QuoteCheck {
  check: string;
  ok: boolean;
  detail: string;
}

export interface QuoteVerdict {
  ok: boolean;
  checks: QuoteCheck[];
  /** true when the AK came from the document itself (not pinned with --ak) */
  akSelfAsserted: boolean;
  attest?: Attest;
}

/** Verifies a quote document against a nonce and (ideally) a pinned AK. Never throws for a bad quote. */
export function verifyQuote(doc: QuoteDoc, opts: { nonce: Uint8Array; akPem?: string }): QuoteVerdict {
  const checks: QuoteCheck[] = [];
  const add = (check: string, ok: boolean, detail: string) => checks.push({ check, ok, detail });
  const message = parseHex(doc.message, 'message');
  const signature = parseHex(doc.signature, 'signature');

  let key: KeyObject | undefined;
  try {
    key = createPublicKey(opts.akPem ?? doc.akPem);
  } catch {
    add('attestation key', false, 'not a public key PEM');
  }
  if (key && opts.akPem) {
    let same = false;
    try {
      same = akFingerprint(opts.akPem) === akFingerprint(doc.akPem);
    } catch {
      same = false;
    }
    add('attestation key', same, same ? 'the quote names the pinned key' : 'the quote names another key than --ak');
  } else if (key) {
    add('attestation key', true, 'taken from the quote itself (not pinned: pass --ak to pin it)');
  }
  if (key) {
    const rsa = key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
    let sigOk = false;
    if (rsa) {
      try {
        sigOk = verify('sha256', message, key, signature);
      } catch {
        sigOk = false;
      }
    }
    add('signature', sigOk, rsa ? (sigOk ? 'rsassa-pkcs1-v1_5 sha256 verifies' : 'does not verify') : 'the key is not RSA ≥ 2048');
  }

  let attest: Attest | undefined;
  try {
    attest = parseAttest(message);
  } catch (err) {
    add('structure', false, (err as Error).message);
  }
  if (attest) {
    add('structure', attest.magic === TPM_GENERATED_VALUE && attest.type === TPM_ST_ATTEST_QUOTE,
      `magic 0x${attest.magic.toString(16)}, type 0x${attest.type.toString(16)} (want 0xff544347, 0x8018)`);
    add('nonce', ctEqual(attest.extraData, opts.nonce), ctEqual(attest.extraData, opts.nonce) ? 'extraData equals the nonce' : 'extraData is not the nonce');
    const wantSel = doc.banks.map((b) => `${b}:${doc.pcr}`).join('+');
    const gotSel = attest.selection.map((s) => `${s.alg}:${s.pcrs.join(',')}`).join('+');
    add('pcr selection', wantSel === gotSel, `attested ${gotSel || 'nothing'}, claimed ${wantSel}`);
    let digestOk = false;
    try {
      const vals: Partial<Record<Bank, Uint8Array>> = {};
      for (const b of doc.banks) vals[b] = parseHex(doc.values[b] ?? '', `${b} value`);
      digestOk = doc.banks.every((b) => vals[b]!.length === DIGEST_SIZE[b]) && ctEqual(attest.pcrDigest, pcrDigestOf(doc.banks, vals));
    } catch {
      digestOk = false;
    }
    add('pcr digest', digestOk, digestOk ? 'sha256 of the claimed values equals the attested digest' : 'the claimed values do not match the attested digest');
  }
  return { ok: checks.every((c) => c.ok) && checks.length >= 6, checks, akSelfAsserted: !opts.akPem, attest };
}

function ctEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Validates a parsed QUOTE.json (InputError on anything unexpected). */
export function parseQuoteDoc(text: string, name: string): QuoteDoc {
  let d: Record<string, unknown>;
  try {
    d = parseStrictJson(text) as Record<string, unknown>;
  } catch {
    throw badDoc(name, 'not JSON');
  }
  if (!d || typeof d !== 'object') throw badDoc(name, 'not a JSON object');
  if (d.format !== QUOTE_FORMAT) throw badDoc(name, `format is not ${QUOTE_FORMAT}`);
  if (!Number.isInteger(d.pcr) || (d.pcr as number) < 0 || (d.pcr as number) > 23) throw badDoc(name, 'pcr is not 0-23');
  if (!Array.isArray(d.banks) || d.banks.length === 0 || !d.banks.every((b) => typeof b === 'string' && isBank(b))) {
    throw badDoc(name, 'banks is not a list of sha256/sha384');
  }
  for (const f of ['nonce', 'message', 'signature', 'akPem', 'akHandle'] as const) {
    if (typeof d[f] !== 'string' || (d[f] as string).length === 0) throw badDoc(name, `${f} is missing`);
  }
  for (const f of ['nonce', 'message', 'signature'] as const) {
    if (!/^([0-9a-f]{2})+$/.test(d[f] as string)) throw badDoc(name, `${f} is not lowercase hex`);
  }
  if (!d.values || typeof d.values !== 'object') throw badDoc(name, 'values is missing');
  return d as unknown as QuoteDoc;
}

function badDoc(name: string, what: string): InputError {
  return new InputError('BAD_QUOTE_FILE', `${name} is not an ima-qs quote: ${what}`, { hint: 'make one with `ima-qs tpm quote --nonce HEX -o QUOTE.json`' });
}
