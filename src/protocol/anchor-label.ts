/**
 * What an audit anchor amounts to, in one phrase (issue 14 item 6, SPEC §8.11): every output that
 * shows an anchor (audit verify, tail, show, tpm doctor, rollout) says it through `anchorLabel`, so
 * a chain anchored in the simulated bank is never presented as a TPM anchor.
 */
export const SIMULATED_ANCHOR_LABEL = 'signed hash chain with checkpoints; no hardware anchor';
/** a simulated chain that no checkpoint covers: not even the checkpoints vouch for it */
export const SIMULATED_UNCHECKPOINTED_LABEL = 'signed hash chain without checkpoints; no hardware anchor';
export const TPM_ANCHOR_LABEL = 'TPM PCR anchor';

/**
 * `checkpointed`: false when it is known that no checkpoint covers the chain (audit verify with a
 * checkpoint store); undefined where the output cannot know (it then names what the worker writes).
 */
export function anchorLabel(a: { simulated: boolean; checkpointed?: boolean }): string {
  if (!a.simulated) return TPM_ANCHOR_LABEL;
  return a.checkpointed === false ? SIMULATED_UNCHECKPOINTED_LABEL : SIMULATED_ANCHOR_LABEL;
}
