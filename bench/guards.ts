/**
 * The out-of-sample guard of examples/backtest (issue 10): the tuner runs BENCH_GUARD_CYCLES cycles
 * on a copy of the example without its guard and on a copy with it, each seed of
 * BENCH_GUARD_SEEDS for both, through the built CLI with --auto-accept. Reported: the changes kept
 * and the candidates the guard stopped, and the Sharpe ratio of the final parameters on the
 * training bars (what the loop optimizes) and on the held-out test bars (what the guard watches),
 * against the original parameters'. The metric and the guard are deterministic, so these figures
 * depend on the seed only, not on the machine or its load (only the wall time does).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { RunSummary } from '../src/core/cycle';
import { envInt, progress, type Context, type Measurement, type Row } from './lib';

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '..');
const CLI = path.join(REPO, 'dist', 'cli.js');

async function sharpe(workspace: string, period: 'train' | 'test'): Promise<number> {
  const { stdout } = await run(process.execPath, ['backtest.js', '--period', period], { cwd: workspace });
  return (JSON.parse(stdout) as { sharpe: number }).sharpe;
}

/** A copy of the example with this seed, with or without its guards. */
async function example(ctx: Context, seed: number, guarded: boolean): Promise<string> {
  const dir = await ctx.freshDir(`backtest-${guarded ? 'guard' : 'noguard'}-${seed}`);
  await fs.cp(path.join(REPO, 'examples', 'backtest'), dir, { recursive: true });
  const configFile = path.join(dir, '.rsi', 'config.json');
  const config = JSON.parse(await fs.readFile(configFile, 'utf8')) as Record<string, unknown>;
  if (!guarded) delete config.guards;
  await fs.writeFile(configFile, JSON.stringify({ ...config, seed }, null, 2));
  return dir;
}

interface Outcome {
  kept: number;
  guardFailed: number;
  train: number;
  test: number;
  seconds: number;
}

async function tune(ctx: Context, seed: number, guarded: boolean, cycles: number): Promise<Outcome> {
  const dir = await example(ctx, seed, guarded);
  const started = Date.now();
  const { stdout } = await run(process.execPath, [CLI, 'cycle', '--cycles', String(cycles), '--auto-accept', '--json', '--workspace', dir], {
    env: { ...process.env, RSI_SANDBOX_ROOT: await ctx.freshDir('sandboxes') },
    maxBuffer: 64 * 1024 * 1024,
  });
  const summary = JSON.parse(stdout) as RunSummary;
  return {
    kept: summary.outcomes.kept ?? 0,
    guardFailed: summary.outcomes['guard-failed'] ?? 0,
    train: await sharpe(dir, 'train'),
    test: await sharpe(dir, 'test'),
    seconds: (Date.now() - started) / 1000,
  };
}

export const guardedBacktest: Measurement = {
  name: 'Out-of-sample guard (examples/backtest)',
  how:
    'the offline tuner, BENCH_GUARD_CYCLES cycles of 4 candidates, --auto-accept, per seed once without the guard and once with it ' +
    '(oos-sharpe: the Sharpe of the later third of the bars, maximize, tolerance 5%); the metric is the Sharpe of the earlier two thirds. ' +
    'Sharpe of the final parameters from `node backtest.js --period train|test` in the tuned copy, against the original parameters\'. ' +
    'Deterministic: the figures depend on the seed, not on the machine.',
  async run(ctx) {
    const cycles = envInt('BENCH_GUARD_CYCLES', 8);
    const seeds = envInt('BENCH_GUARD_SEEDS', 2);
    const original = await example(ctx, 1, true);
    const start = { train: await sharpe(original, 'train'), test: await sharpe(original, 'test') };
    const rows: Row[] = [];
    const raw: Record<string, unknown> = { cycles, original: start };
    for (let seed = 1; seed <= seeds; seed++) {
      progress(`  seed ${seed}: ${cycles} cycles without the guard`);
      const free = await tune(ctx, seed, false, cycles);
      progress(`  seed ${seed}: ${cycles} cycles with the guard`);
      const guarded = await tune(ctx, seed, true, cycles);
      raw[`seed ${seed}`] = { free, guarded };
      const m = `seed ${seed}`;
      rows.push(
        { measurement: m, what: `${m}: kept changes with the guard (base: without)`, ours: guarded.kept, unit: 'changes', base: { label: 'no guard', value: free.kept }, note: `${guarded.guardFailed} stopped by the guard` },
        { measurement: m, what: `${m}: training Sharpe of the final parameters, no guard`, ours: free.train, unit: 'Sharpe', base: { label: 'original', value: start.train } },
        { measurement: m, what: `${m}: training Sharpe of the final parameters, guarded`, ours: guarded.train, unit: 'Sharpe', base: { label: 'original', value: start.train } },
        { measurement: m, what: `${m}: test (out-of-sample) Sharpe of the final parameters, no guard`, ours: free.test, unit: 'Sharpe', base: { label: 'original', value: start.test } },
        { measurement: m, what: `${m}: test (out-of-sample) Sharpe of the final parameters, guarded`, ours: guarded.test, unit: 'Sharpe', base: { label: 'original', value: start.test } },
      );
    }
    ctx.raw.guardedBacktest = raw;
    return rows;
  },
};
