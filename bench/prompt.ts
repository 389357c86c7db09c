/**
 * Prompt size (issue 4): what a model proposer is told for the backtest example with 50 lessons
 * (a seeded mix of outcomes over its strategy parameters), by section, against the same prompt
 * without lessons and the configured budget. Issue 12: the same with the baseline's CPU profile and
 * the measuring code, on the sort example and a generated 50-file project; and what the profile
 * costs (a profiled run against a plain one, and the time to summarize it).
 */
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/core/config';
import { contextPrompt, historyFromRunner, profileFromRunner } from '../src/core/context';
import type { Lesson, LessonMetric, Outcome } from '../src/core/lessons';
import { unifiedDiff } from '../src/core/patch';
import { seededRandom } from '../src/core/random';
import { listTargetFiles } from '../src/core/workspace';
import { RunnerClient } from '../src/runner/client';
import { execCommand } from '../src/process/exec';
import { profiledEnv, summarizeProfiles, type ProcessProfile } from '../src/runner/profile';
import { envInt, median, progress, type Context, type Measurement, type Row } from './lib';
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

const SORT = path.resolve(__dirname, '..', 'examples', 'sort');

/**
 * CPU time (user + system) of this process's reaped children and their reaped descendants, in ms,
 * from /proc/self/stat (Linux; clock ticks of 10 ms): less disturbed than wall time by the other
 * work on a busy machine.
 */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'latin1').split(') ')[1]!.split(' ');
  // Fields 16 and 17 of stat(5) (cutime, cstime), counted from field 3 after the command name.
  return (Number(fields[13]) + Number(fields[14])) * 10;
}
const PRELOAD = path.resolve(__dirname, '..', 'dist', 'profile-preload.js');

export const profileOverhead: Measurement = {
  name: 'profile overhead (sort example)',
  how:
    'examples/sort `node bench.js` run by the runner\'s execCommand, plain and under the profiler preload (--require in NODE_OPTIONS, ' +
    '500 µs sampling), in interleaved pairs (BENCH_PROFILE_PAIRS, default 5): wall time of the command, and its CPU time (the bench ' +
    'process\'s reaped children, /proc/self/stat); summarize: reading, parsing ' +
    'and summarizing each profiled run\'s profile files (what the runner does after the run), against that run\'s wall time.',
  async run(ctx: Context): Promise<Row[]> {
    const pairs = envInt('BENCH_PROFILE_PAIRS', 5);
    const command = { command: 'node bench.js', cwd: SORT, timeoutMs: 120_000, outputBytes: 65_536 };
    const plain: number[] = [];
    const profiled: number[] = [];
    const cpu = { plain: [] as number[], profiled: [] as number[] };
    const summarize: number[] = [];
    const bytes: number[] = [];
    for (let i = 0; i < pairs; i++) {
      let before = childrenCpuMs();
      plain.push((await execCommand(command)).wallMs);
      cpu.plain.push(childrenCpuMs() - before);
      const dir = await ctx.freshDir('profile');
      before = childrenCpuMs();
      profiled.push((await execCommand({ ...command, env: profiledEnv(dir, PRELOAD) })).wallMs);
      cpu.profiled.push(childrenCpuMs() - before);
      const started = performance.now();
      const names = await fs.readdir(dir);
      const texts = await Promise.all(names.map((name) => fs.readFile(path.join(dir, name), 'utf8')));
      summarizeProfiles(texts.map((text) => JSON.parse(text) as ProcessProfile), [SORT]);
      summarize.push(performance.now() - started);
      bytes.push(texts.reduce((sum, text) => sum + text.length, 0));
      progress(`profile pair ${i + 1}/${pairs}: plain ${plain.at(-1)!.toFixed(0)} ms, profiled ${profiled.at(-1)!.toFixed(0)} ms`);
    }
    ctx.raw['profileOverhead'] = { plain, profiled, cpu, summarize, bytes };
    const row = (what: string, ours: number, unit: string, base?: Row['base']): Row => ({
      measurement: this.name, what, ours, unit, n: pairs, ...(base && { base, ratio: ours / base.value }),
    });
    return [
      row('profiled baseline run, wall', median(profiled), 'ms', { label: 'plain run', value: median(plain) }),
      row('profiled baseline run, CPU (user + sys)', median(cpu.profiled), 'ms', { label: 'plain run', value: median(cpu.plain) }),
      row('summarize the profile (read, parse, aggregate)', median(summarize), 'ms', { label: 'the profiled run', value: median(profiled) }),
      row('profile size', median(bytes) / 1024, 'KiB'),
    ];
  },
};

/** A 50-file project: modules of a few functions each, one much hotter, run by `npm run bench`. */
async function generatedProject(dir: string): Promise<string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) {
    const n = String(i).padStart(2, '0');
    const work = i === 17 ? 400_000 : 4_000 * (1 + (i % 5));
    files[`src/mod${n}.js`] =
      `'use strict';\n// Module ${n}: a checksum over generated records, split into helpers.\n` +
      `// Records are built fresh on every run so that the benchmark measures allocation as well as\n` +
      `// arithmetic; the weights repeat every 97 records and the tags every 13, as in the real feed.\n` +
      `// Keep the checksum stable: the tests compare it with the one recorded for this module.\n\n` +
      `/** Record k of this module. */\nfunction record${n}(k) {\n  return { id: k, weight: (k * ${i + 3}) % 97, tag: 'm${n}-' + (k % 13) };\n}\n\n` +
      `/** Weighted sum of the records' ids. */\nfunction score${n}(records) {\n  let sum = 0;\n  for (const r of records) sum = (sum + r.id * r.weight + r.tag.length) % 1_000_003;\n  return sum;\n}\n\n` +
      `/** Runs the module once: builds its records and scores them. */\nfunction run${n}() {\n  const records = [];\n  for (let k = 0; k < ${work}; k++) records.push(record${n}(k));\n  return score${n}(records);\n}\n\n` +
      `/** A line for the report: the module, its record count and its score. */\nfunction describe${n}(count, score) {\n  return \`module ${n}: \${count} records, score \${score}\`;\n}\n\n` +
      `module.exports = { run: run${n}, score: score${n}, record: record${n}, describe: describe${n} };\n`;
  }
  files['bench/run.js'] = "'use strict';\nconst modules = Array.from({ length: 50 }, (_, i) => require(`../src/mod${String(i).padStart(2, '0')}.js`));\nlet total = 0;\nfor (const m of modules) total = (total + m.run()) % 1_000_003;\nconsole.log(`total=${total}`);\n";
  files['test/modules.test.js'] = "'use strict';\nconst test = require('node:test');\nconst assert = require('node:assert/strict');\ntest('every module scores', () => {\n  for (let i = 0; i < 50; i++) assert.ok(Number.isInteger(require(`../src/mod${String(i).padStart(2, '0')}.js`).run()));\n});\n";
  files['package.json'] = JSON.stringify({ name: 'generated', private: true, scripts: { bench: 'node bench/run.js', test: 'node --test test/' } }, null, 2);
  files['.rsi/config.json'] = JSON.stringify({ metric: { command: 'npm run bench', read: 'wallTime', direction: 'minimize' }, gate: ['npm test'], targets: ['src/**'] }, null, 2);
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), text);
  }
  return dir;
}

/** The prompt a model proposer gets, with the runner's profile of a sandboxed baseline run. */
async function profiledPrompt(workspace: string, ctx: Context): Promise<{ text: string; budget: number }> {
  const config = await loadConfig(workspace);
  const storageRoot = await ctx.freshDir('prompt-profile-storage');
  const runner = new RunnerClient({ runnerPath: RUNNER_PATH, log: progress });
  try {
    const text = await contextPrompt({
      workspace,
      config,
      targetFiles: await listTargetFiles(workspace, config.targets, config.protected),
      readFile: (rel) => fs.readFile(path.join(workspace, rel), 'utf8'),
      lessons: [],
      verdicts: new Map(),
      history: historyFromRunner(runner, workspace, storageRoot, config),
      profile: profileFromRunner(runner, workspace, storageRoot, config, { log: progress }),
      log: progress,
    });
    await runner.request('release', {});
    return { text, budget: config.context.budgetChars };
  } finally {
    await runner.dispose();
  }
}

export const promptWithProfile: Measurement = {
  name: 'prompt with profile and measuring code',
  how:
    'contextPrompt with the runner profiling one baseline run in a sandbox, no lessons, the configured budget: examples/sort ' +
    '(`node bench.js`, gate `node --test test/`) and a generated project of 50 target modules (~1 KB each, together over the ' +
    'budget; one hot) measured by ' +
    '`npm run bench` through package.json; by section. The measuring code only gets the room the target files leave.',
  async run(ctx: Context): Promise<Row[]> {
    const rows: Row[] = [];
    const projects = [
      ['sort example', SORT],
      ['generated 50 files', await generatedProject(await ctx.freshDir('fifty-files'))],
    ] as const;
    for (const [label, workspace] of projects) {
      const { text, budget } = await profiledPrompt(workspace, ctx);
      rows.push({ measurement: this.name, what: `${label}: whole prompt vs the budget`, ours: text.length, unit: 'chars', base: { label: 'context.budgetChars', value: budget }, ratio: text.length / budget });
      for (const [heading, size] of sections(text)) rows.push({ measurement: this.name, what: `  section "${heading}"`, ours: size, unit: 'chars' });
      const notShown = /^\(not shown for lack of space: (.*)\)$/gm;
      const named = [...text.matchAll(notShown)].reduce((n, m) => n + m[1]!.split(', ').length, 0);
      rows.push({ measurement: this.name, what: '  files named only, for lack of space', ours: named, unit: '' });
    }
    return rows;
  },
};
