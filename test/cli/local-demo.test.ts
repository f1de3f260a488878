// The full service demo as a real process from the BUILT code (dist/; npm test builds first):
// keys → local stack → an analyze and a patents request → verified decisions → a tampered copy
// refused → the last audit entries. Exit code + JSON.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';

describe('demo (spawned, built code)', () => {
  it('runs the whole black box in a temp dir and exits 0 with one JSON document', async () => {
    const r = await spawnCli(['demo', '--json'], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.ok).toBe(true);
    expect(j.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(j.anchor.simulated).toBe(true);
    expect(j.steps.length).toBeGreaterThanOrEqual(7);
    expect(j.steps.every((s: { ok: boolean }) => s.ok)).toBe(true);
    expect(j.decisions.map((d: { route: string }) => d.route)).toEqual(['analyze', 'patents']);
    for (const d of j.decisions) expect(d.checks).toBeGreaterThanOrEqual(8);
    expect(j.steps.find((s: { step: string }) => s.step.includes('tampered')).detail).toContain('votes root');
    expect(j.audit).toHaveLength(2);
    expect(j.audit.every((a: { after: string | null; simulated: boolean }) => a.after && a.simulated)).toBe(true);
    expect(existsSync(j.state)).toBe(false); // the temp dir is gone
  }, 150_000);
});
