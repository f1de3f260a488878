/**
 * Names of the custody secrets (SPEC §7.1): under a prefix `P` (default `ima/quantum`),
 * `P/keyset` holds the key set, one version per generation (keyset-secret.ts), and
 * `P/public-keys` the published document (src/protocol/keys-document.ts).
 */
import { InputError } from '../errors.js';

export const DEFAULT_PREFIX = 'ima/quantum';

export const PUBLIC_KEYS_SUFFIX = 'public-keys';

/**
 * A prefix is a secret-name path without leading or trailing slash, of the characters Secrets
 * Manager allows in names (ASCII letters, digits, / _ + = . @ -), short enough for every suffix.
 */
export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_+=.@-]+(\/[A-Za-z0-9_+=.@-]+)*$/.test(prefix) || prefix.length > 480) {
    throw new InputError('BAD_PREFIX', `--prefix "${prefix.slice(0, 80)}" is not a secret name prefix`, {
      hint: 'expected a path like ima/quantum: letters, digits and / _ + = . @ -, no leading or trailing slash',
    });
  }
  return prefix;
}

export function secretName(prefix: string, suffix: string): string {
  return `${prefix}/${suffix}`;
}

/** A short form of a fingerprint for tables: the first 16 hex digits. */
export function shortFingerprint(fp: string | undefined): string {
  return fp ? fp.slice(0, 16) : '—';
}

/** A short form of a version id for tables. */
export function shortVersion(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}
