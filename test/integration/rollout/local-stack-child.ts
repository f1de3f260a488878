/**
 * The "deployed" service for the rollout's d4.load-test: the real local stack (the same proxy
 * handler and worker pipeline as the Lambda and the Fargate task, dynalite, a simulated PCR bank)
 * in a child process, started by rollout-load.test.ts under Node 24 like the deployed runtimes
 * (native ML-DSA-87 in OpenSSL 3.5; with the pure-JS signer on Node 20 one decision alone takes
 * ~0.5 s on this machine). Prints one JSON line {endpoint, fingerprint}; stops when stdin ends.
 * Usage: node --import tsx local-stack-child.ts STATE_DIR
 */
import { startLocalStack } from '../../../src/local/local-stack.js';

const stateDir = process.argv[2];
if (!stateDir) throw new Error('usage: local-stack-child.ts STATE_DIR');
const stack = await startLocalStack({ stateDir, anchor: { kind: 'simulated' }, port: 0 });
process.stdout.write(`${JSON.stringify({ endpoint: stack.endpoint, fingerprint: stack.fingerprint, workers: stack.workers, node: process.version })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void stack.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
