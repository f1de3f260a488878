// vitest setup: the CLI's per-user state (the highest key-set generation seen per root pin,
// $XDG_STATE_HOME/ima-qs/generations.json) goes to a fresh folder per test file, never to the
// machine user's own.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.XDG_STATE_HOME = mkdtempSync(join(tmpdir(), 'ima-qs-state-'));
