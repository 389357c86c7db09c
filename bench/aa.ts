/**
 * Decision quality: A/A false keeps, power on known improvements, runs per decision, noise floors;
 * today's procedure (paired, anytime-valid, bench/../src/core/stats.ts) beside the previous one
 * (unpaired Mann-Whitney with Bonferroni looks, bench/previousJudge.ts) and a naive harness, all
 * replayed on the same recorded runs.
 *
 * The workload is a synthetic CPU-bound benchmark: a `sh` loop whose iteration count sits in a
 * file, so its work is scaled by a known factor (0.95, 0.90, 0.80 for true 5%, 10%, 20% gains),
 * start-up included, so the factor is the change. Each run costs TARGET_CPU_MS of CPU. Each slot runs five
 * variants in a shuffled order (A, A', and the three scaled ones) through the runner's measuring
 * code (measure.ts `sample`, "read": "cpuTime"), recording CPU time and wall time of the same run.
 * Once quiet, once with a CPU hog (`sh -c 'while :; do :; done'`) running beside it. Slots alternate
 * between the scheduler's choice of CPU and all five runs on one CPU (the CPUs in turn), as
 * `sampling.pinPairs` runs a pair, so the two are compared on the same stretch of the machine.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decisionPairs, floorOf } from '../src/core/calibration';
import { parseConfig } from '../src/core/config';
import { seededRandom } from '../src/core/random';
import { judge, median, type SamplingPolicy } from '../src/core/stats';
import { allowedCpus } from '../src/process/cpus';
import { cpuTimerInfo, sample } from '../src/runner/measure';
import type { MetricSpec } from '../src/protocol/metric';
import { envInt, progress, type Context, type Measurement, type Row } from './lib';
import * as previous from './previousJudge';

const VARIANTS = { A: 1, A2: 1, B5: 0.95, B10: 0.9, B20: 0.8 } as const;
type Variant = keyof typeof VARIANTS;
type Reading = 'cpu' | 'wall';
/** One slot: each variant's CPU and wall time, all run within a few hundred ms of each other. */
type Slot = Record<Variant, Record<Reading, number>>;

/** The config's defaults, as a new workspace gets them. */
const { minRuns, maxRuns, alpha, confirm } = parseConfig(JSON.stringify({ metric: { command: 'sh work.sh', read: 'cpuTime', direction: 'minimize' }, targets: ['work'] })).sampling;
const POLICY = { minRuns, maxRuns, alpha };
/** The most pairs a decision takes (its re-test included): the length of each replayed window, and the sample the floor is taken at. */
const WINDOW = decisionPairs({ maxRuns, confirm });
/**
 * CPU per run, ms. Long enough that neither the timer (1 us; bash's 1 ms would be 0.7%) nor the
 * start-up of `sh` (a few ms of fork and exec, which jitters more than the loop under load) weighs
 * in a 5% change, and in the range of a real unit benchmark; short enough that 300 slots of five
 * runs, quiet and with a hog, take about a quarter of an hour.
 */
const TARGET_CPU_MS = 150;
const CALIBRATION_SLOTS = 20; // the config's default noise.calibrationRuns
const LOOP = 'n=$(cat work); i=0; while [ $i -lt $n ]; do i=$((i+1)); done\n';

async function writeLoop(dir: string, iterations: number): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'work.sh'), LOOP);
  await fs.writeFile(path.join(dir, 'work'), String(Math.max(0, Math.round(iterations))));
  return dir;
}

/**
 * Iterations per variant such that the whole command's CPU time (start-up included: a few ms of
 * fork and exec on a loaded machine) is scaled by the variant's factor, for a total of TARGET_CPU_MS:
 * CPU = fixed + perIteration * N, both estimated from interleaved probes at two loop lengths.
 */
async function variantIterations(root: string): Promise<Record<Variant, number> & { fixedMs: number; perIterationUs: number }> {
  const short = await writeLoop(path.join(root, 'probe-short'), 2_000);
  const long = await writeLoop(path.join(root, 'probe-long'), 20_000);
  const s: number[] = [], l: number[] = [];
  for (let i = 0; i < 5; i++) {
    s.push((await run(short)).cpu);
    l.push((await run(long)).cpu);
  }
  const perIteration = Math.max(1e-4, (median(l) - median(s)) / 18_000);
  const fixed = Math.max(0, median(s) - perIteration * 2_000);
  const total = Math.max(TARGET_CPU_MS, fixed * 2);
  const out = { fixedMs: fixed, perIterationUs: perIteration * 1000 } as Record<Variant, number> & { fixedMs: number; perIterationUs: number };
  for (const [variant, factor] of Object.entries(VARIANTS) as [Variant, number][]) out[variant] = (factor * total - fixed) / perIteration;
  return out;
}

async function run(dir: string, cpu?: number): Promise<Record<Reading, number>> {
  const metric: MetricSpec = { command: 'sh work.sh', read: 'cpuTime', timeoutMs: 60_000, outputBytes: 4096 };
  let wall = NaN;
  const { values } = await sample({ metric, side: 'baseline', runs: 1, cpu }, { baseline: dir, candidate: dir }, new AbortController().signal, (event) => {
    if (event.kind === 'run') wall = event.wallMs;
  });
  return { cpu: values[0]!, wall };
}

function shuffled<T>(xs: T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Where a slot's runs go: wherever the scheduler puts each, or all on one CPU. */
type Placement = 'free' | 'pinned';

/** `count` slots of each placement, alternating (which one goes first alternates too). */
async function record(dirs: Record<Variant, string>, count: number, deadline: number, label: string, random: () => number): Promise<Record<Placement, Slot[]>> {
  const cpus = allowedCpus();
  const slots: Record<Placement, Slot[]> = { free: [], pinned: [] };
  const recordSlot = async (cpu?: number) => {
    const slot = {} as Slot;
    for (const variant of shuffled(Object.keys(VARIANTS) as Variant[], random)) slot[variant] = await run(dirs[variant], cpu);
    return slot;
  };
  for (let k = 0; k < count; k++) {
    if (k >= CALIBRATION_SLOTS + WINDOW && performance.now() > deadline) {
      progress(`${label}: time budget spent, stopping at ${k} of ${count} slots of each placement (BENCH_DECISION_MINUTES)`);
      break;
    }
    const pinned = async () => slots.pinned.push(await recordSlot(cpus.length ? cpus[k % cpus.length] : undefined));
    const free = async () => slots.free.push(await recordSlot());
    if (k % 2 === 0) await free().then(pinned);
    else await pinned().then(free);
    if ((k + 1) % 25 === 0) progress(`${label}: ${k + 1}/${count} slots of each placement`);
  }
  return slots;
}

interface Pairs {
  a: number[];
  b: number[];
}

/**
 * `length` A/A pairs drawn at random (with replacement) from the recorded ones, each with its two
 * runs swapped half of the time: independent decisions on the same noise, without its order in
 * time, and with no change at all (the two runs of an A/A pair are exchangeable), not the recorded
 * sample's chance offset.
 */
function resampledNull(pairs: Pairs, length: number, random: () => number): Pairs {
  const out: Pairs = { a: [], b: [] };
  for (let k = 0; k < length; k++) {
    const i = Math.floor(random() * pairs.a.length);
    const swap = random() < 0.5;
    out.a.push(swap ? pairs.b[i]! : pairs.a[i]!);
    out.b.push(swap ? pairs.a[i]! : pairs.b[i]!);
  }
  return out;
}

/** Pairs from `from` on, wrapping around the timeline so every slot can start a decision. */
function windowAt(pairs: Pairs, from: number, length: number): Pairs {
  const at = (i: number) => (from + i) % pairs.a.length;
  return { a: Array.from({ length }, (_, i) => pairs.a[at(i)]!), b: Array.from({ length }, (_, i) => pairs.b[at(i)]!) };
}

interface Decision {
  kept: boolean;
  pairs: number;
}

/** Today's cycle: the sequential test until done; a "better" must hold over as many fresh pairs again, judged on all. */
function decideOurs(p: Pairs, policy: SamplingPolicy): Decision {
  for (let n = 1; n <= p.a.length; n++) {
    const first = judge(p.a.slice(0, n), p.b.slice(0, n), policy);
    if (!first.done) continue;
    if (first.verdict !== 'better') return { kept: false, pairs: n };
    const all = judge(p.a.slice(0, 2 * n), p.b.slice(0, 2 * n), policy);
    return { kept: all.verdict === 'better', pairs: 2 * n };
  }
  throw new Error('window too short');
}

/** The previous cycle: its sequential test until done; a "better" re-tested by a second, fresh sequential test. */
function decidePrevious(p: Pairs, policy: previous.SamplingPolicy): Decision {
  const once = (from: number) => {
    for (let n = 1; from + n <= p.a.length; n++) {
      const r = previous.judge(p.a.slice(from, from + n), p.b.slice(from, from + n), policy);
      if (r.done) return { verdict: r.verdict, n };
    }
    throw new Error('window too short');
  };
  const first = once(0);
  if (first.verdict !== 'better') return { kept: false, pairs: first.n };
  const second = once(first.n);
  return { kept: second.verdict === 'better', pairs: first.n + second.n };
}

/** One-sided 95% upper bound of a proportion (Clopper-Pearson), by bisection on the binomial CDF. */
export function upperBound95(k: number, n: number): number {
  const logChoose = (m: number) => lgammaInt(n) - lgammaInt(m) - lgammaInt(n - m);
  const cdf = (p: number) => {
    let sum = 0;
    for (let m = 0; m <= k; m++) sum += Math.exp(logChoose(m) + m * Math.log(p) + (n - m) * Math.log1p(-p));
    return sum;
  };
  let lo = k / n, hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) > 0.05) lo = mid; else hi = mid;
  }
  return hi;
}

function lgammaInt(m: number): number {
  let s = 0;
  for (let i = 2; i <= m; i++) s += Math.log(i);
  return s;
}

function pairsOf(slots: Slot[], a: Variant, b: Variant, reading: Reading): Pairs {
  return { a: slots.map((s) => s[a][reading]), b: slots.map((s) => s[b][reading]) };
}

function startHog(): () => Promise<void> {
  const hog = spawn('sh', ['-c', 'while :; do :; done'], { detached: true, stdio: 'ignore' });
  return async () => {
    try {
      process.kill(-hog.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
  };
}

export const aaFalseKeeps: Measurement = {
  name: 'Decisions: A/A false keeps, power, runs, floors (synthetic sh loop, cpuTime and wall time)',
  how: `five variants per slot, their loop lengths set from probes so the whole command's CPU time scales by the factor (start-up included) in shuffled order (A, A', work x0.95, x0.90, x0.80), slots alternating between the scheduler's choice of CPU and all five on one CPU (the CPUs in turn, as sampling.pinPairs; rows "pairs pinned"), each run once through measure.ts sample ("read": "cpuTime" by ${cpuTimerInfo()?.name ?? 'no timer'}, ${TARGET_CPU_MS} ms of CPU; wall time from the same run); first ${CALIBRATION_SLOTS} slots calibrate (A vs A'), decisions (BENCH_DECISIONS per condition) replay the rest from every slot (windows wrap around and OVERLAP: trials are correlated, so the bounds are optimistic). ours = judge (paired, anytime-valid) until done, a "better" extended by as many pairs and judged on all; previous = Mann-Whitney with alpha split over looks, re-tested by a second sequential test; naive = 5 A then 5 A', keep if median lower. Policy: minRuns ${POLICY.minRuns}, maxRuns ${POLICY.maxRuns}, alpha ${POLICY.alpha}. Runs = pairs x 2.`,
  async run(ctx: Context): Promise<Row[]> {
    const started = performance.now();
    const random = seededRandom(9);
    const root = await ctx.freshDir('decisions');
    const iterations = await variantIterations(root);
    progress(`decisions: start-up ${iterations.fixedMs.toFixed(1)} ms CPU, ${iterations.perIterationUs.toFixed(2)} us per iteration; A runs ${Math.round(iterations.A)} iterations`);
    const dirs = {} as Record<Variant, string>;
    for (const variant of Object.keys(VARIANTS) as Variant[]) dirs[variant] = await writeLoop(path.join(root, variant), iterations[variant]);
    const slotsWanted = CALIBRATION_SLOTS + envInt('BENCH_DECISIONS', 100);
    const minutes = envInt('BENCH_DECISION_MINUTES', 12);

    const rows: Row[] = [];
    const name = this.name;
    const raw: Record<string, unknown> = { iterations };
    for (const condition of ['quiet', 'CPU hog'] as const) {
      const stopHog = condition === 'CPU hog' ? startHog() : undefined;
      const loadBefore = os.loadavg()[0]!;
      let recorded: Record<Placement, Slot[]>;
      try {
        recorded = await record(dirs, slotsWanted, performance.now() + (minutes / 2) * 60_000, `decisions, ${condition}`, random);
      } finally {
        await stopHog?.();
      }
      // The 1-minute load average at the end covers the recording's last minute (the hog counts 1, these runs about 1).
      const loadAfter = os.loadavg()[0]!;
      for (const placement of ['free', 'pinned'] as const) {
        const slots = recorded[placement];
        const where = placement === 'pinned' ? `${condition}, pairs pinned` : condition;
        raw[where] = slots;
        const calibration = slots.slice(0, CALIBRATION_SLOTS);
        const timeline = slots.slice(CALIBRATION_SLOTS);
        const trials = timeline.length;
        const floors: Record<Reading, { ours: number; previous: number }> = { cpu: { ours: 0, previous: 0 }, wall: { ours: 0, previous: 0 } };

        for (const reading of ['cpu', 'wall'] as const) {
          const label = reading === 'cpu' ? 'cpuTime' : 'wall time';
          const cal = pairsOf(calibration, 'A', 'A2', reading);
          floors[reading] = { ours: floorOf(cal.a, cal.b, { ...POLICY, decisionPairs: WINDOW }).floor, previous: previous.noiseFloor(cal.a, cal.b, POLICY.maxRuns, seededRandom(0x5eed)) };
          const ours: SamplingPolicy = { ...POLICY, noiseFloor: floors[reading].ours, direction: 'minimize' };
          const prev: previous.SamplingPolicy = { ...POLICY, noiseFloor: floors[reading].previous, direction: 'minimize' };
          const replay = (b: Variant, count = trials, draw?: () => number) => {
            const pairs = pairsOf(timeline, 'A', b, reading);
            const results = { ours: [] as Decision[], previous: [] as Decision[] };
            for (let t = 0; t < count; t++) {
              const window = draw ? resampledNull(pairs, WINDOW, draw) : windowAt(pairs, t, WINDOW);
              results.ours.push(decideOurs(window, ours));
              results.previous.push(decidePrevious(window, prev));
            }
            return results;
          };
          const stat = (ds: Decision[]) => {
            const kept = ds.filter((d) => d.kept);
            return { kept: kept.length, rate: kept.length / ds.length, meanPairs: ds.reduce((s, d) => s + d.pairs, 0) / ds.length, medianKeptPairs: median(kept.map((d) => d.pairs)) };
          };
          const aa = replay('A2');
          const o = stat(aa.ours), p = stat(aa.previous);
          rows.push({
            measurement: name, what: `${where}, ${label}: A/A false-keep rate`, ours: o.rate, unit: '%', base: { label: 'previous', value: p.rate }, n: trials,
            note: `ours ${o.kept}/${trials}, 95% upper bound ${(upperBound95(o.kept, trials) * 100).toFixed(1)}%; previous ${p.kept}/${trials}, upper ${(upperBound95(p.kept, trials) * 100).toFixed(1)}%`,
          });
          const resampledCount = envInt('BENCH_DECISION_RESAMPLED', 2000);
          const aaResampled = replay('A2', resampledCount, seededRandom(11));
          const or = stat(aaResampled.ours), pr = stat(aaResampled.previous);
          rows.push({
            measurement: name, what: `${where}, ${label}: A/A false-keep rate, resampled pairs`, ours: or.rate, unit: '%', base: { label: 'previous', value: pr.rate }, n: resampledCount,
            note: `windows of pairs drawn at random from the same ${trials}, sides swapped half of the time: independent decisions, no order in time, no change; ours ${or.kept}, upper ${(upperBound95(or.kept, resampledCount) * 100).toFixed(2)}%; previous ${pr.kept}, upper ${(upperBound95(pr.kept, resampledCount) * 100).toFixed(2)}%`,
          });
          rows.push({
            measurement: name, what: `${where}, ${label}: mean pairs per null decision (re-tests included)`, ours: o.meanPairs, unit: 'pairs', base: { label: 'previous', value: p.meanPairs }, ratio: o.meanPairs / p.meanPairs, n: trials,
            note: `${((o.meanPairs / POLICY.maxRuns) * 100).toFixed(0)}% of the ${POLICY.maxRuns}-pair cap; previous ${((p.meanPairs / POLICY.maxRuns) * 100).toFixed(0)}%`,
          });
          for (const [variant, gain] of [['B5', 5], ['B10', 10], ['B20', 20]] as const) {
            const r = replay(variant);
            const os = stat(r.ours), ps = stat(r.previous);
            const real = median(timeline.map((s) => s[variant][reading] / s.A[reading])) - 1;
            rows.push({
              measurement: name, what: `${where}, ${label}: ${gain}% less work found (kept)`, ours: os.rate, unit: '%', base: { label: 'previous', value: ps.rate }, n: trials,
              note: `median pairs to a keep ${os.medianKeptPairs} (previous ${ps.medianKeptPairs}); measured median change ${(real * 100).toFixed(1)}%`,
            });
          }
        }
        rows.push({
          measurement: name, what: `${where}: noise floor, cpuTime`, ours: floors.cpu.ours, unit: '%', base: { label: 'wall time', value: floors.wall.ours }, ratio: floors.cpu.ours / floors.wall.ours, n: CALIBRATION_SLOTS,
          note: `paired floor; previous (unpaired) floors: cpuTime ${(floors.cpu.previous * 100).toFixed(2)}%, wall ${(floors.wall.previous * 100).toFixed(2)}%`,
        });
        if (placement === 'free') {
          // The naive harness: 5 runs of A, then 5 of A' (identical), keep if the median dropped.
          const naive = pairsOf(timeline, 'A', 'A2', 'wall');
          let naiveKeeps = 0, naive3 = 0;
          for (let from = 0; from < trials; from++) {
            const w = windowAt(naive, from, 10);
            const a = median(w.a.slice(0, 5)), b = median(w.b.slice(5));
            if (b < a) naiveKeeps++;
            if (b < a * 0.97) naive3++;
          }
          rows.push({ measurement: name, what: `${condition}, wall time: naive 5 A then 5 A', "better"`, ours: naiveKeeps / trials, unit: '%', n: trials, note: `"better by >3%": ${((naive3 / trials) * 100).toFixed(1)}%` });
        }
        rows.push({ measurement: name, what: `${where}: median run`, ours: median(timeline.map((s) => s.A.cpu)), unit: 'ms CPU', base: { label: 'wall', value: median(timeline.map((s) => s.A.wall)) }, n: trials });
      }
      rows.push({ measurement: name, what: `${condition}: 1-minute load average at the end of the recording (2 cores, shared)`, ours: loadAfter, unit: '', n: recorded.free.length + recorded.pinned.length, note: `${loadBefore.toFixed(2)} at its start` });
    }
    ctx.raw.decisions = raw;
    rows.push({ measurement: name, what: 'wall time of this measurement', ours: (performance.now() - started) / 60_000, unit: 'min' });
    return rows;
  },
};
