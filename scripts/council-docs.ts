/**
 * Prints the generated council documentation (test/helpers/council-docs.ts):
 *   npx tsx scripts/council-docs.ts spec     the SPEC §8.3 rosters and rule definitions
 *   npx tsx scripts/council-docs.ts corpus   the README table of the labelled corpus, then its misses
 * Paste each between its markers in SPEC.md / README.md; tests fail when they drift.
 */
import { corpusTable, runCorpus, score, specRosters } from '../test/helpers/council-docs.js';

const what = process.argv[2];
if (what === 'spec') {
  process.stdout.write(`${specRosters()}\n`);
} else if (what === 'corpus') {
  const rows = runCorpus();
  process.stdout.write(`${corpusTable(score(rows))}\n`);
  for (const r of rows.filter((x) => x.actual !== x.expected)) process.stderr.write(`miss: ${r.file} expected ${r.expected}, got ${r.actual}\n`);
} else {
  process.stderr.write('usage: council-docs.ts spec|corpus\n');
  process.exitCode = 2;
}
