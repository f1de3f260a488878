/**
 * The container entry point of the worker (`ima-qs package worker`): builds the worker from the
 * task's environment (SPEC §8.8), runs the consumer, and on SIGTERM (ECS stops a task with
 * SIGTERM, then SIGKILL after stopTimeout) finishes or releases the batch in hand and exits.
 * Like bin/, this is an entry module: the one place in the worker that touches process.*.
 */
import { toImaError } from '../../errors.js';
import { jsonLogger } from '../log.js';
import { workerFromEnv } from '../wiring.js';
import { startHeartbeat } from './heartbeat.js';

export async function main(): Promise<void> {
  const log = jsonLogger(process.stdout, { service: 'ima-qs-worker' });
  try {
    // every variable (WORKER_PIPELINES, HEARTBEAT_FILE included) is checked by workerFromEnv first (SPEC §8.8)
    let stopFor: ((why: string) => void) | undefined;
    const parts = await workerFromEnv(process.env, log, {
      // a new generation certifies another signer: this task drains and ends; ECS starts a fresh one
      onSignerRotated: (info) => {
        log.log('info', 'signer rotated: stopping so that a fresh task loads the new signer', { generation: info.generation, purpose: info.purpose, signer: info.fingerprint });
        stopFor?.('signer-rotated');
      },
    });
    let stopping = false;
    let heartbeat: { stop(): void } | undefined;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      heartbeat?.stop();
      log.log('info', 'stopping', { signal });
      // every pipeline finishes its batch within STOP_GRACE_SECONDS, or its messages are released
      parts.ring.stop();
      const { released } = await parts.consumer.stop();
      // SPEC §8.11: the final checkpoint, once nothing more is appended
      const final = await parts.checkpoints?.stop();
      if (final) log.log(final.failed.length ? 'error' : 'info', 'final checkpoint', { written: final.written, failed: final.failed.length });
      process.exitCode = 0;
      // released messages are visible again for another worker: end now, so their abandoned
      // pipelines (e.g. a consultation still waiting on the persona model) cannot finish later
      if (released > 0) process.exit(0);
      await parts.close();
    };
    stopFor = (why) => void stop(why);
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    parts.consumer.start();
    parts.checkpoints?.start();
    if (!parts.checkpoints) log.log('warn', 'audit checkpoints off: AUDIT_CHECKPOINTS is not set (SPEC §8.11)', { chains: parts.pipelines.map((x) => x.chain) });
    // liveness for the container HEALTHCHECK / ECS healthCheck (heartbeat.ts, health.mjs)
    heartbeat = startHeartbeat(parts.config.heartbeatFile, () => parts.consumer.lastPollAt);
    log.log('info', 'worker started', {
      chains: parts.pipelines.map((x) => x.chain),
      chain_source: parts.chainSource,
      pipelines: parts.pipelines.length,
      signer: parts.signerFingerprint,
      signer_custody: parts.config.signer.kind,
      generations: parts.ring.sets.map((x) => `${x.stage}:${x.generation}`),
      // SPEC §8.11: who signs the checkpoints (the audit key), or that there are none
      checkpoints: parts.checkpoints ? { store: parts.config.checkpoints?.location, audit_key: parts.checkpoints.signer } : 'off',
      // who can read the audit payloads (SPEC §8.8 AUDIT_RECIPIENT): operators check it here
      audit_recipient: parts.auditRecipient.fingerprint,
      audit_recipient_source: parts.auditRecipient.source,
      model: parts.model,
      council_budget_ms: parts.config.councilBudgetMs,
    });
  } catch (err) {
    const e = toImaError(err);
    log.log('error', 'worker failed to start', { code: e.code, error: e.message, hint: e.hint, ...(e.details?.variables ? { variables: e.details.variables } : {}) });
    process.exitCode = e.exitCode;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*[\\/]/, ''))) void main();
