/**
 * Is there a bias between the two sandboxes, or between the first and second run of a pair? A
 * decision compares the baseline's sandbox with the candidate's, and each pair runs one side
 * first; if either choice alone moved the metric, an A/A comparison would drift away from zero
 * and a null candidate could be kept. Long A/A measurements of examples/sort (identical files in
 * both sandboxes) through the runner, as a calibration takes them, give both effects to a fraction
 * of the noise: the side effect is the mean log ratio candidate/baseline; the order effect the mean
 * log ratio second/first (pairs alternate which side runs first).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, metricSpec } from '../src/core/config';
import { LocalEvaluator } from '../src/evaluation/local';
import { RunnerClient } from '../src/runner/client';
import type { MetricReader } from '../src/protocol/metric';
import { envInt, progress, type Context, type Measurement, type Row } from './lib';
import { RUNNER_PATH } from './runner';

const EXAMPLE = path.resolve(__dirname, '..', 'examples', 'sort');
const T_975 = 1.96; // the normal quantile: n is in the hundreds

/** Mean and 95% interval half-width of a fixed sample (not sequential: the number of pairs is fixed in advance). */
function meanInterval(xs: number[]): { mean: number; half: number } {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  return { mean, half: (T_975 * sd) / Math.sqrt(n) };
}

const asPercent = ({ mean, half }: { mean: number; half: number }) =>
  `${(Math.expm1(mean) * 100).toFixed(2)}% (95% CI ${(Math.expm1(mean - half) * 100).toFixed(2)}% to ${(Math.expm1(mean + half) * 100).toFixed(2)}%)`;

export const sideBias: Measurement = {
  name: 'Sandbox and order bias (A/A on examples/sort through the runner)',
  how: 'a fresh copy of examples/sort and its two sandboxes; BENCH_BIAS_PAIRS interleaved A/A pairs (identical files on both sides, the order inside a pair alternating as in every decision) through one runner, once reading cpuTime and once wallTime. Side effect = mean of log(candidate sandbox / baseline sandbox); order effect = mean of log(second run / first run); each with a fixed-sample 95% interval, printed as relative changes.',
  async run(ctx: Context): Promise<Row[]> {
    const workspace = await ctx.freshDir('bias-sort');
    await fs.cp(EXAMPLE, workspace, { recursive: true });
    const storageRoot = await ctx.freshDir('bias-sandboxes');
    const runner = new RunnerClient({ runnerPath: RUNNER_PATH });
    const evaluator = new LocalEvaluator(runner, { workspace, storageRoot });
    const config = await loadConfig(workspace);
    const pairs = envInt('BENCH_BIAS_PAIRS', 200);
    const rows: Row[] = [];
    try {
      for (const read of ['cpuTime', 'wallTime'] as MetricReader[]) {
        const load = os.loadavg()[0]!;
        progress(`bias: ${pairs} A/A pairs reading ${read as string}`);
        const measured = await evaluator.measure({
          base: {},
          candidate: {},
          epoch: `bias-${read as string}`,
          metric: { ...metricSpec(config), read },
          pairs,
          sampling: { ...config.sampling, direction: 'minimize', deterministic: false, noiseFloor: 0, minEffect: 0 },
        });
        if (!measured.ok) throw new Error(`examples/sort failed: ${measured.detail}`);
        ctx.raw[`bias ${read as string}`] = { baseline: measured.baseline, candidate: measured.candidate };
        const d = measured.baseline.map((b, i) => Math.log(measured.candidate[i]! / b));
        // Even pairs run the baseline first (measure.ts): there, second/first is candidate/baseline.
        const order = d.map((x, i) => (i % 2 === 0 ? x : -x));
        const side = meanInterval(d), first = meanInterval(order);
        const note = `load ${load.toFixed(1)} at the start; one pair's log ratio varies by ${(Math.sqrt(d.reduce((s, x) => s + (x - side.mean) ** 2, 0) / (d.length - 1)) * 100).toFixed(1)}% (SD)`;
        rows.push({ measurement: this.name, what: `${read as string}: candidate's sandbox against the baseline's`, ours: Math.expm1(side.mean), unit: '%', n: d.length, note: `${asPercent(side)}; ${note}` });
        rows.push({ measurement: this.name, what: `${read as string}: second run of a pair against the first`, ours: Math.expm1(first.mean), unit: '%', n: d.length, note: asPercent(first) });
      }
    } finally {
      await evaluator.release().catch(() => undefined);
      await runner.dispose();
    }
    return rows;
  },
};
