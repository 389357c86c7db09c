/**
 * A/A false-keep rate on the sort example's wall-time metric: both sandboxes hold identical code,
 * so every "keep" is false. One long interleaved timeline of runner samples is recorded once; the
 * cycle's decision procedure and a naive harness are then replayed on windows of it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { noiseFloor } from '../src/core/calibration';
import { loadConfig, metricSpec } from '../src/core/config';
import { judge, median, type SamplingPolicy, type Verdict } from '../src/core/stats';
import type { MetricSpec, Side } from '../src/runner/protocol';
import { RunnerClient } from '../src/runner/client';
import { coefficientOfVariation, envInt, progress, robustCv, type Context, type Measurement, type Row } from './lib';
import { RUNNER_PATH } from './runner';

const SORT_EXAMPLE = path.resolve(__dirname, '..', 'examples', 'sort');

interface Pair {
  baseline: number;
  candidate: number;
}

/** `count` interleaved pairs, or fewer (at least `atLeast`) when `deadline` (performance.now) passes first. */
async function recordPairs(runner: RunnerClient, metric: MetricSpec, count: number, label: string, deadline = Infinity, atLeast = count): Promise<Pair[]> {
  const pairs: Pair[] = [];
  const one = async (side: Side) => (await runner.request('sample', { metric, side, runs: 1 })).values[0]!;
  for (let i = 0; i < count; i++) {
    if (i >= atLeast && performance.now() > deadline) {
      progress(`${label}: time budget spent, stopping at ${i} of ${count} pairs (BENCH_AA_MINUTES)`);
      break;
    }
    pairs.push({ baseline: await one('baseline'), candidate: await one('candidate') });
    if ((i + 1) % 25 === 0 || i + 1 === count) progress(`${label}: ${i + 1}/${count} pairs`);
  }
  return pairs;
}

/** The cycle's sequential test from pair `from` on: pairs until judge is done. */
function decide(pairs: Pair[], from: number, policy: SamplingPolicy): { verdict: Verdict; used: number } {
  const baseline: number[] = [], candidate: number[] = [];
  for (let i = from; i < pairs.length; i++) {
    baseline.push(pairs[i]!.baseline);
    candidate.push(pairs[i]!.candidate);
    const decision = judge(baseline, candidate, policy);
    if (decision.done) return { verdict: decision.verdict, used: i - from + 1 };
  }
  throw new Error('the timeline ran out before a decision');
}

export const aaFalseKeeps: Measurement = {
  name: 'A/A false keeps (examples/sort, metric = wall time of `node bench.js`)',
  how: 'identical code in both sandboxes (prepare, setCandidate {}), runner `sample` requests alternating baseline/candidate; calibration segment -> noiseFloor(a, b, maxRuns) as the cycle does; then one timeline replayed by every trial from evenly spaced offsets (windows OVERLAP, so trials are correlated). ours = judge with the config policy until done, a "better" re-tested on the next fresh pairs; naive = first 5 runs of the window in time order are A, next 5 are B, keep if median(B) < median(A).',
  async run(ctx: Context): Promise<Row[]> {
    const started = performance.now();
    const ws = await ctx.freshDir('sort-workspace');
    await fs.cp(SORT_EXAMPLE, ws, { recursive: true });
    const config = await loadConfig(ws);
    const metric = metricSpec(config);
    const { minRuns, maxRuns, alpha, confirm } = config.sampling;
    const policy: SamplingPolicy = { minRuns, maxRuns, alpha, noiseFloor: 0, direction: config.metric.direction };
    const pairsWanted = envInt('BENCH_AA_PAIRS', 300);
    const trials = envInt('BENCH_AA_TRIALS', 100);
    // Keeps the whole bench near 10 minutes on a loaded machine: the timeline is cut short instead.
    const budgetMinutes = envInt('BENCH_AA_MINUTES', 7);
    // Worst case of one trial: maxRuns pairs, then maxRuns more for the re-test.
    const window = 2 * policy.maxRuns;
    if (pairsWanted < window) throw new Error(`BENCH_AA_PAIRS must be at least ${window} (twice sampling.maxRuns)`);

    const runner = new RunnerClient({ runnerPath: RUNNER_PATH, log: progress });
    ctx.onCleanup(() => runner.dispose());
    await runner.request('prepare', { workspace: ws, storageRoot: await ctx.freshDir('sort-storage'), overlay: {} });
    await runner.request('setCandidate', { files: {} });
    const calibration = await recordPairs(runner, metric, config.noise.calibrationRuns, 'A/A calibration');
    const floor = noiseFloor(calibration.map((p) => p.baseline), calibration.map((p) => p.candidate), policy.maxRuns);
    policy.noiseFloor = floor;
    progress(`A/A noise floor ${(floor * 100).toFixed(2)}%; recording the timeline`);
    const timeline = await recordPairs(runner, metric, pairsWanted, 'A/A timeline', performance.now() + budgetMinutes * 60_000, window);
    const pairs = timeline.length;
    await runner.request('release', {});
    const runs = timeline.flatMap((p) => [p.baseline, p.candidate]); // time order

    let oursKeeps = 0, oursFirstBetter = 0, oursWorse = 0, oursRuns = 0, naiveKeeps = 0, naive3 = 0, interleavedKeeps = 0;
    const last = pairs - window;
    for (let t = 0; t < trials; t++) {
      const from = trials === 1 ? 0 : Math.round((t * last) / (trials - 1));
      const first = decide(timeline, from, policy);
      oursRuns += 2 * first.used;
      if (first.verdict === 'worse') oursWorse++;
      if (first.verdict === 'better') {
        oursFirstBetter++;
        if (confirm) {
          const again = decide(timeline, from + first.used, policy);
          oursRuns += 2 * again.used;
          if (again.verdict === 'better') oursKeeps++;
        } else {
          oursKeeps++;
        }
      }
      const ten = runs.slice(2 * from, 2 * from + 10);
      const a = median(ten.slice(0, 5)), b = median(ten.slice(5));
      if (b < a) naiveKeeps++;
      if (b < a * 0.97) naive3++;
      // Same 10 runs, interleaved sides: what interleaving alone does, without the test.
      if (median(ten.filter((_, i) => i % 2 === 1)) < median(ten.filter((_, i) => i % 2 === 0))) interleavedKeeps++;
    }
    const minutes = (performance.now() - started) / 60_000;
    const round = (ps: Pair[]) => ps.map((p) => [Math.round(p.baseline * 10) / 10, Math.round(p.candidate * 10) / 10]);
    ctx.raw.aa = { note: 'wall ms, [baseline, candidate] per pair, in time order', floor, calibration: round(calibration), timeline: round(timeline) };
    const all = [...calibration.flatMap((p) => [p.baseline, p.candidate]), ...runs];
    progress(`A/A: ${trials} trials replayed in ${minutes.toFixed(1)} min of sampling`);
    const name = this.name;
    const rate = (what: string, ours: number, base?: { label: string; value: number }, note?: string): Row => ({
      measurement: name, what, ours, unit: '%', ...(base && { base }), n: trials, ...(note && { note }),
    });
    return [
      rate('false-keep rate', oursKeeps / trials, { label: 'naive 5 A then 5 B', value: naiveKeeps / trials }, `ours: ${oursFirstBetter} first "better", ${oursKeeps} confirmed; ${oursWorse} "worse"`),
      rate('naive: "better by >3%"', naive3 / trials),
      rate('naive interleaved 5 vs 5 (same runs, any gain)', interleavedKeeps / trials),
      { measurement: name, what: 'runs per trial, ours (both sides, re-tests included)', ours: oursRuns / trials, unit: 'runs', base: { label: 'naive', value: 10 }, ratio: oursRuns / trials / 10, n: trials, note: `minRuns ${minRuns}, maxRuns ${maxRuns}, alpha ${alpha}` },
      { measurement: name, what: 'calibrated noise floor', ours: floor, unit: '%', n: 2 * calibration.length, note: `noiseFloor(a, b, maxRuns=${policy.maxRuns})` },
      { measurement: name, what: 'coefficient of variation of the samples', ours: coefficientOfVariation(all), unit: '%', n: all.length },
      { measurement: name, what: 'robust CV (1.4826 MAD / median)', ours: robustCv(all), unit: '%', n: all.length, note: `${all.filter((x) => x > 1.5 * median(all)).length} runs > 1.5x the median` },
      { measurement: name, what: 'median run (wall time of the metric command)', ours: median(all), unit: 'ms', n: all.length },
      { measurement: name, what: 'timeline', ours: pairs, unit: 'pairs', note: `${pairs < pairsWanted ? `CUT SHORT from ${pairsWanted} by the ${budgetMinutes}-minute budget; ` : ''}trial offsets every ~${(last / Math.max(1, trials - 1)).toFixed(1)} pairs, up to ${window} pairs a trial: overlapping` },
      { measurement: name, what: 'wall time of this measurement', ours: minutes, unit: 'min' },
    ];
  },
};
