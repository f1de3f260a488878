/** Password-reset tokens for the customer portal. */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const TOKEN_LENGTH = 24;
const TTL_MS = 30 * 60 * 1000;

interface ResetToken {
  userId: string;
  token: string;
  expiresAt: number;
}

const pending = new Map<string, ResetToken>();

export function createResetToken(userId: string, now = Date.now()): ResetToken {
  let token = '';
  for (let i = 0; i < TOKEN_LENGTH; i++) token += ALPHABET[Math.floor(Math.random() * ALPHABET.length)];
  const entry = { userId, token, expiresAt: now + TTL_MS };
  pending.set(token, entry);
  return entry;
}

export function redeem(token: string, now = Date.now()): string | undefined {
  const entry = pending.get(token);
  if (!entry) return undefined;
  pending.delete(token);
  return entry.expiresAt > now ? entry.userId : undefined;
}
