/**
 * Council benchmark (issue 12): "council, worst case, 128 KiB" per rule. Every persona's
 * adversarial inputs (test/helpers/council-adversarial.ts: near-matches repeated up to the body
 * limit, in several shapes) are run, and for each rule the WORST input of its whole council is
 * reported, median of REPS runs:
 *   own scan + judge   the rule alone: its own patterns as one RE2 set over every line, then its
 *                      judge (the patent structure parse included for the patent kinds)
 *   judge              the rule inside the council: the shared scan already done
 * plus the shared stages (text features, the council's one RE2 set over all lines, the patent
 * structure) and a whole consultation. Prints a markdown table. Target: ≤ 20 ms per rule on Node 24.
 * Run: node --import tsx bench/council.bench.ts [--reps 3]
 */
import { COUNCILS, LINE_SETS, RULES, judge, prepare, ruleVotes } from '../src/service/council/councils.js';
import { readText } from '../src/service/council/features.js';
import { MatcherSet } from '../src/service/council/matcher.js';
import { parsePatent, type Patent } from '../src/service/council/patent.js';
import { lineMatchers, type Rule } from '../src/service/council/rule.js';
import { ADVERSARIAL, WORST_SIZE, adversarialInputs } from '../test/helpers/council-adversarial.js';

const argReps = process.argv.indexOf('--reps');
const REPS = argReps > 0 ? Number(process.argv[argReps + 1]) : 3;

function median(f: () => unknown): number {
  const t: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const a = performance.now();
    f();
    t.push(performance.now() - a);
  }
  return t.sort((x, y) => x - y)[Math.floor(t.length / 2)];
}

const ms = (x: number) => x.toFixed(1);
const own = new Map<Rule, MatcherSet | undefined>();
for (const rules of Object.values(RULES)) {
  for (const r of rules) {
    const m = lineMatchers(r.definition);
    own.set(r, m.length > 0 ? MatcherSet.of(m) : undefined);
  }
}
const EMPTY = MatcherSet.of([]);

console.log(`node ${process.version}, ${REPS} runs per input (median), worst input of each council, content ${WORST_SIZE} characters`);
console.log('');
console.log('| council | rule | worst input | own scan + judge (ms) | judge in council (ms) |');
console.log('|---|---|---|---|---|');
const shared: string[] = [];
for (const c of COUNCILS) {
  const inputs = Object.entries(ADVERSARIAL[c.id]).flatMap(([persona, frags]) =>
    frags.flatMap((f) => adversarialInputs(c.id, f).map((x) => ({ label: `${persona} ${JSON.stringify(f)} ${x.shape}`, content: x.content }))),
  );
  const worst = new Map<Rule, { alone: number; inCouncil: number; label: string }>();
  const stage = { features: [0, ''] as [number, string], scan: [0, ''] as [number, string], patent: [0, ''] as [number, string], total: [0, ''] as [number, string] };
  const keep = (k: keyof typeof stage, v: number, label: string) => {
    if (v > stage[k][0]) stage[k] = [v, label];
  };
  for (const { label, content } of inputs) {
    const t = readText(content);
    keep('features', median(() => readText(content)), label);
    keep('scan', median(() => LINE_SETS[c.id].scan(t.lines)), label);
    keep('patent', median(() => parsePatent(t)), label);
    keep('total', median(() => ruleVotes(c, content)), label);
    const ctx = prepare(c, content);
    const p = ctx.patent();
    for (const r of RULES[c.id]) {
      const set = own.get(r) ?? EMPTY;
      const alone = median(() => {
        let patent: Patent | undefined;
        judge(r, { t, hits: set.scan(t.lines), patent: () => (patent ??= parsePatent(t)) });
      });
      const inCouncil = median(() => judge(r, { ...ctx, patent: () => p }));
      const w = worst.get(r);
      if (!w || alone > w.alone) worst.set(r, { alone, inCouncil: Math.max(inCouncil, w?.inCouncil ?? 0), label });
      else w.inCouncil = Math.max(w.inCouncil, inCouncil);
    }
  }
  for (const r of RULES[c.id]) {
    const w = worst.get(r)!;
    console.log(`| ${c.id} | ${r.id} | ${w.label.split('|').join('\\|')} | ${ms(w.alone)} | ${ms(w.inCouncil)} |`);
  }
  shared.push(
    `| ${c.id} | text features (shared) | ${ms(stage.features[0])} | ${stage.features[1]} |`,
    `| ${c.id} | one RE2 set over every line (shared) | ${ms(stage.scan[0])} | ${stage.scan[1]} |`,
    `| ${c.id} | patent structure (shared) | ${ms(stage.patent[0])} | ${stage.patent[1]} |`,
    `| ${c.id} | **whole consultation, 21 votes** | **${ms(stage.total[0])}** | ${stage.total[1]} |`,
  );
}
console.log('');
console.log('| council | stage | worst (ms) | worst input |');
console.log('|---|---|---|---|');
for (const s of shared) console.log(s);
