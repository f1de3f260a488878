#!/usr/bin/env node
// The executable: parse argv, run, set the exit code. Everything else lives in src/ (built to dist/).
import { main } from '../dist/main.js';

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
