/**
 * Prompt size (issue 4): what a model proposer is told for the backtest example with 50 lessons
 * (a seeded mix of outcomes over its strategy parameters), by section, against the same prompt
 * without lessons and the configured budget.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/core/config';
import { contextPrompt, historyFromRunner } from '../src/core/context';
import type { Lesson, LessonMetric, Outcome } from '../src/core/lessons';
import { unifiedDiff } from '../src/core/patch';
import { seededRandom } from '../src/core/random';
import { listTargetFiles } from '../src/core/workspace';
import { RunnerClient } from '../src/runner/client';
import { progress, type Context, type Measurement, type Row } from './lib';
import { RUNNER_PATH } from './runner';

const EXAMPLE = path.resolve(__dirname, '..', 'examples', 'backtest');
const LESSONS = 50;
const TARGET = 'strategy.js';

/** Outcomes with their weight in the mix (what a day of cycles with a model proposer looks like). */
const MIX: [Outcome, number][] = [
  ['kept', 0.1], ['regressed', 0.2], ['no-effect', 0.3], ['gate-failed', 0.2], ['crashed', 0.05], ['invalid', 0.1], ['duplicate', 0.05],
];

const DETAILS: Partial<Record<Outcome, string[]>> = {
  'gate-failed': [
    "`node --test test/` exited with code 1\nnot ok 5 - parameters are inside their annotated ranges and fast < slow\n  error: 'fast (30) must be below slow (9)'",
    "`node --test test/` exited with code 1\nnot ok 6 - the backtest gives finite, sane and repeatable results\n  error: 'totalReturn is NaN'",
  ],
  crashed: ['metric command exited with code 1\nTypeError: Cannot read properties of undefined (reading \'length\')'],
  invalid: ['SEARCH block 1 does not occur in strategy.js', 'path ../backtest.js is outside the targets'],
  duplicate: ['the same change was tried before'],
};

/** 50 plausible lessons: each changes one annotated parameter of strategy.js; seeded. */
function plausibleLessons(strategy: string): { lessons: Lesson[]; verdicts: Map<string, 'accepted' | 'rejected'> } {
  const random = seededRandom(0xbac7);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const params = [...strategy.matchAll(/^\s+(\w+): ([\d.]+), \/\/ rsi: (?:int )?([\d.]+)\.\.([\d.]+)/gm)];
  const lessons: Lesson[] = [];
  for (let i = 0; i < LESSONS; i++) {
    const [line, name, value, lo, hi] = pick(params);
    const next = Number((Number(lo) + random() * (Number(hi) - Number(lo))).toPrecision(2));
    const after = strategy.replace(line!, line!.replace(`${name}: ${value},`, `${name}: ${next},`));
    let roll = random();
    const outcome = MIX.find(([, weight]) => (roll -= weight) < 0)?.[0] ?? 'no-effect';
    const change = outcome === 'kept' ? 0.02 + random() * 0.2 : outcome === 'regressed' ? -0.3 * random() : outcome === 'no-effect' ? 0 : undefined;
    const metric: LessonMetric | undefined =
      change === undefined ? undefined : { name: 'sharpe', direction: 'maximize', baseline: { median: 1.23, n: 1 }, candidate: { median: 1.23 * (1 + change), n: 1 }, change, ci: [change, change], p: change === 0 ? 1 : 0 };
    lessons.push({
      v: 1,
      id: `bench-${i}`,
      time: new Date(Date.UTC(2025, 0, 1, i)).toISOString(),
      cycle: 1 + Math.floor(i / 4),
      proposer: 'command',
      hypothesis: `${name} ${value} -> ${next}: ${next > Number(value) ? 'more' : 'less'} ${name} should suit the hourly volatility better`,
      files: [TARGET],
      patch: unifiedDiff([{ path: TARGET, before: strategy, after }]),
      patchHash: `bench${i}`,
      outcome,
      durationMs: 800,
      ...(metric && { metric }),
      ...(DETAILS[outcome] && { detail: pick(DETAILS[outcome]) }),
    });
  }
  const kept = lessons.filter((l) => l.outcome === 'kept');
  const verdicts = new Map<string, 'accepted' | 'rejected'>();
  if (kept[0]) verdicts.set(kept[0].id, 'rejected');
  if (kept[1]) verdicts.set(kept[1].id, 'accepted');
  return { lessons, verdicts };
}

/** Section sizes by their `## ` headings (the answer format's heading included). */
function sections(prompt: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const part of prompt.split(/\n\n(?=## )/)) {
    const heading = /^## ([^:(\n]+)/.exec(part)?.[1]?.trim() ?? 'other';
    sizes.set(heading, (sizes.get(heading) ?? 0) + part.length);
  }
  return sizes;
}

export const promptSize: Measurement = {
  name: `prompt size (backtest example, ${LESSONS} lessons)`,
  how:
    `contextPrompt on examples/backtest with ${LESSONS} generated lessons (seeded mix: ${MIX.map(([o, w]) => `${o} ${w * 100}%`).join(', ')}; ` +
    'one kept rejected by the user, one accepted), the example\'s git history read by the runner, the configured budget; ' +
    'baseline: the same prompt with no lessons.',
  async run(ctx: Context): Promise<Row[]> {
    const config = await loadConfig(EXAMPLE);
    const strategy = await fs.readFile(path.join(EXAMPLE, TARGET), 'utf8');
    const { lessons, verdicts } = plausibleLessons(strategy);
    const storageRoot = await ctx.freshDir('prompt-storage');
    const targetFiles = await listTargetFiles(EXAMPLE, config.targets, config.protected);
    const runner = new RunnerClient({ runnerPath: RUNNER_PATH, log: progress });
    const build = (withLessons: boolean) =>
      contextPrompt({
        workspace: EXAMPLE,
        config,
        targetFiles,
        readFile: (rel) => fs.readFile(path.join(EXAMPLE, rel), 'utf8'),
        lessons: withLessons ? lessons : [],
        verdicts,
        baseline: { median: 1.23, n: 1, values: [1.23], deterministic: true },
        history: historyFromRunner(runner, EXAMPLE, storageRoot, config),
        log: progress,
      });
    let full: string, bare: string;
    try {
      full = await build(true);
      bare = await build(false);
    } finally {
      await runner.dispose();
    }
    const row = (what: string, ours: number, base?: Row['base']): Row => ({
      measurement: this.name, what, ours, unit: 'chars', ...(base && { base, ratio: ours / base.value }),
    });
    return [
      row(`whole prompt, ${LESSONS} lessons`, full.length, { label: 'no lessons', value: bare.length }),
      row('whole prompt vs the budget', full.length, { label: 'context.budgetChars', value: config.context.budgetChars }),
      ...[...sections(full)].map(([heading, size]) => row(`  section "${heading}"`, size)),
    ];
  },
};
