#!/usr/bin/env node
// The executable: parse argv, run, set the exit code. Everything else lives in src/ (built to dist/).
// The AWS SDK prints a nine-line notice on Node < 22 at its first client, into every command's
// stderr. Our SDK versions are pinned exactly, so the notice (about future SDK releases) changes
// nothing for this install; the README says which Node to run (24 for native ML-KEM/ML-DSA).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('../dist/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`ima-qs: error: internal error (this is a bug in ima-qs)\n`);
    if (process.env.IMA_QS_DEBUG) process.stderr.write(`${err?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
