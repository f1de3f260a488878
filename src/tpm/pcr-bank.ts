/**
 * The `PcrBank` port (DESIGN.md "Ports"): the only TPM calls the rest of ima-qs makes.
 * Implementations: `Tpm2ToolsBank` (a real TPM through tpm2-tools) and `SimulatedBank` (a software
 * bank in a state file, always labelled simulated).
 */
import type { Bank } from './pcr-math.js';

export interface BankDescription {
  kind: 'tpm2-tools' | 'simulated';
  /** the TCTI the tools use ("device" when inherited/default) */
  tcti?: string;
  /** the simulated bank's state file */
  stateFile?: string;
  /** true for a software bank: no hardware anchor. Shown in every output. */
  simulated: boolean;
}

/** A TPM2_Quote over one PCR selection (SPEC §6.5). */
export interface QuoteResult {
  /** TPMS_ATTEST bytes as the TPM signed them */
  message: Uint8Array;
  /** raw signature (RSASSA-PKCS1-v1_5 over SHA-256 of `message` for the AKs ima-qs creates) */
  signature: Uint8Array;
  /** the PCR values the tools read alongside (checked against the attested digest by verify) */
  values: Record<Bank, Uint8Array>;
  /** attestation key public key (SPKI PEM) */
  akPem: string;
  /** persistent handle of the AK, e.g. 0x81010002 */
  akHandle: string;
  /** true when the AK was created by this call */
  akCreated: boolean;
  /** the tpm2-tools PCR file (for `tpm2_checkquote -f`), when available */
  toolsPcrs?: Uint8Array;
}

export interface PcrBank {
  /** Reads one PCR in each of `banks`. */
  read(pcr: number, banks: readonly Bank[]): Promise<Record<Bank, Uint8Array>>;
  /** Extends one PCR in every bank given, in one TPM2_PCR_Extend. */
  extend(pcr: number, digests: Partial<Record<Bank, Uint8Array>>): Promise<void>;
  /** Quotes one PCR in `banks` with a caller's nonce (TPMS_ATTEST.extraData). */
  quote(pcr: number, banks: readonly Bank[], nonce: Uint8Array): Promise<QuoteResult>;
  describe(): BankDescription;
}
