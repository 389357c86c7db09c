import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Overlay } from '../protocol/evaluation';
import type { EngineOptions } from './cycle';
import { UserError } from '../protocol/errors';
import type { MetricSpec, Side } from '../protocol/metric';
import { loadConfig, metricSpec, type RsiConfig } from './config';
import { seededRandom } from './random';
import { compare, estimateChange, isConstant, median, pairedDifferences, pairSpread } from './stats';

/** The noise floor of a workspace's metric on this machine, cached in `.rsi/calibration.json`. */
export interface Calibration {
  /** 2: the floor taken at `decisionPairs`, outliers pulled in to Tukey's inner fences; a file of another version is measured again. */
  v: 2;
  time: string;
  /** Relative change that A/A estimates over a decision's largest sample stay below 95% of the time (`noiseFloor`), or a difference between the sandboxes (`floorOf`), the larger. */
  floor: number;
  runs: number;
  deterministic: boolean;
  /** The floor holds for this metric command on this machine only. */
  metricCommand: string;
  machine: string;
  /** And for pairs pinned to a CPU or not (`sampling.pinPairs`), which differ in noise; absent in a file older than the setting: not pinned. */
  pinPairs?: boolean;
  /** Median and median absolute deviation of all A/A runs, for reports. */
  spread: { median: number; mad: number };
  /** Standard deviation of the A/A pairs' differences (log ratio, or relative): what a cycle's own A/A pairs are checked against. */
  pairSpread: number;
  /** Present when the A/A pairs showed the two sandboxes measure differently (`floorOf`): the floor then covers the interval's far end. */
  sidesDiffer?: { change: number; ci: [number, number] };
  /** What the machine was doing: a floor taken under another load is re-checked (cycle.ts). */
  conditions: Conditions;
}

export interface Conditions {
  /** 1, 5 and 15 minute load averages. */
  loadavg: number[];
  cores: number;
  platform: string;
  node: string;
}

export function currentConditions(): Conditions {
  return { loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), cores: os.cpus().length, platform: `${os.platform()} ${os.release()}`, node: process.version };
}

function mad(xs: number[]): number {
  const m = median(xs);
  return median(xs.map((x) => Math.abs(x - m)));
}

export const CALIBRATION_FILE = path.join('.rsi', 'calibration.json');

export function machineId(): string {
  const cpus = os.cpus();
  return `${os.hostname()}/${cpus.length}x${cpus[0]?.model ?? 'cpu'}`;
}

/** The most pairs one decision takes, its re-test included: the sample the noise floor is taken at. */
export function decisionPairs(sampling: { maxRuns: number; confirm: boolean }): number {
  return sampling.confirm ? 2 * sampling.maxRuns : sampling.maxRuns;
}

/**
 * The noise floor from A/A pairs (the same code on both sides, runs interleaved): resample
 * `decisionPairs` pairs at a time, each pair's runs swapped half of the time, estimate the change
 * as a decision does (`estimateChange`: outliers pulled in, kept inside the decision's interval),
 * and take the 95th percentile of its size. The swaps make it the noise alone: the two runs of an
 * A/A pair are exchangeable, and without them the sample's chance offset would count as noise (20
 * pairs on a busy machine averaged -3.5%, and the floor came out at 4.3% where the noise alone gave
 * 2.8%). A real difference between the sandboxes is `floorOf`'s to find. With the most pairs a
 * decision takes, the floor is the change this loop cannot tell from noise even at its best; a keep
 * must also have its interval clear of zero, which answers for the noise of the decision's own,
 * usually fewer, pairs. Seeded, so a calibration is reproducible from its samples.
 */
export function noiseFloor(a: number[], b: number[], sampling: { alpha: number; maxRuns: number; decisionPairs: number }, trials = 400): number {
  if (isConstant([...a, ...b])) return 0;
  const { d, toChange } = pairedDifferences(a, b);
  const random = seededRandom(0x5eed);
  const draw = () => d[Math.floor(random() * d.length)]! * (random() < 0.5 ? -1 : 1);
  const estimate = () => estimateChange(Array.from({ length: sampling.decisionPairs }, draw), toChange, sampling.alpha, sampling.maxRuns);
  const changes = Array.from({ length: trials }, () => Math.abs(estimate())).sort((x, y) => x - y);
  return changes[Math.floor(0.95 * (trials - 1))]!;
}

/**
 * The floor A/A pairs imply: the noise's (`noiseFloor`), raised to cover a difference between the
 * sandboxes the pairs show beyond chance: identical files that measure differently in one sandbox
 * (another disk, a path the program reads). A decision would count that as the candidate's doing,
 * so when the A/A interval (the same anytime-valid one a decision uses) is clear of zero, the
 * floor covers its far end.
 */
export function floorOf(a: number[], b: number[], sampling: { alpha: number; maxRuns: number; decisionPairs: number }): Pick<Calibration, 'floor' | 'sidesDiffer'> {
  const noise = noiseFloor(a, b, sampling);
  if (isConstant([...a, ...b]) || Math.min(a.length, b.length) < 2) return { floor: noise };
  const { change, ci } = compare(a, b, sampling.alpha, sampling.maxRuns);
  if (ci[0] <= 0 && ci[1] >= 0) return { floor: noise };
  return { floor: Math.max(noise, ...ci.map(Math.abs)), sidesDiffer: { change, ci } };
}

export async function readCalibration(workspace: string, config: Pick<RsiConfig, 'metric' | 'sampling'>): Promise<Calibration | undefined> {
  try {
    const cached = JSON.parse(await fs.readFile(path.join(workspace, CALIBRATION_FILE), 'utf8')) as Calibration;
    const valid =
      cached.v === 2 &&
      typeof cached.floor === 'number' &&
      typeof cached.pairSpread === 'number' &&
      cached.metricCommand === config.metric.command &&
      cached.machine === machineId() &&
      (cached.pinPairs ?? false) === config.sampling.pinPairs;
    return valid ? cached : undefined;
  } catch {
    return undefined;
  }
}

export async function writeCalibration(workspace: string, calibration: Calibration): Promise<void> {
  const file = path.join(workspace, CALIBRATION_FILE);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(calibration, null, 2) + '\n');
}

/** An A/A measurement: the calibration it implies, and its runs (a cycle's baseline sample when it calibrates). */
export interface NoiseMeasurement {
  calibration: Calibration;
  values: Record<Side, number[]>;
  peakRssBytes: number;
}

/** A/A runs on the prepared sandboxes (the candidate side holding the baseline too), interleaved, then the floor they imply. */
export async function measureNoise(options: EngineOptions, config: RsiConfig, metric: MetricSpec, target: { base: Overlay; hiddenEnv?: string[] }): Promise<NoiseMeasurement> {
  const conditions = currentConditions(); // before the runs add their own load
  const runs = config.noise.calibrationRuns;
  const { minRuns, maxRuns, alpha, pinPairs } = config.sampling;
  const measured = await options.evaluator.measure(
    { ...target, candidate: {}, metric, pairs: runs, sampling: { minRuns, maxRuns, alpha, direction: config.metric.direction, deterministic: false, noiseFloor: 0, minEffect: 0, pinPairs } },
    {
      signal: options.signal,
      onProgress: (event) => event.kind === 'phase' && options.onEvent?.({ kind: 'calibration', pairs: event.runs.candidate, total: runs }),
    },
  );
  if (!measured.ok) throw new UserError(`the metric fails on the unmodified workspace: ${measured.detail}`);
  const values: Record<Side, number[]> = { baseline: measured.baseline, candidate: measured.candidate };
  const peakRssBytes = Math.max(measured.peakRssBytes.baseline, measured.peakRssBytes.candidate);
  const all = [...values.baseline, ...values.candidate];
  const calibration: Calibration = {
    v: 2,
    time: new Date().toISOString(),
    ...floorOf(values.baseline, values.candidate, { alpha, maxRuns, decisionPairs: decisionPairs(config.sampling) }),
    runs,
    deterministic: isConstant(all),
    metricCommand: config.metric.command,
    machine: machineId(),
    pinPairs,
    spread: { median: median(all), mad: mad(all) },
    pairSpread: pairSpread(values.baseline, values.candidate),
    conditions,
  };
  return { calibration, values, peakRssBytes };
}

/** `rsi calibrate`: measure the noise floor of the workspace's metric afresh and cache it; `previous` is the one it replaced. */
export async function calibrate(options: EngineOptions): Promise<Calibration & { previous?: Calibration }> {
  const { workspace } = options;
  const config = await loadConfig(workspace);
  const previous = await readCalibration(workspace, config);
  options.onEvent?.({ kind: 'log', message: `calibrating: ${config.noise.calibrationRuns} A/A pairs of \`${config.metric.command}\` on two identical sandboxes, interleaved` });
  try {
    const { calibration } = await measureNoise(options, config, metricSpec(config), { base: {} });
    await writeCalibration(workspace, calibration);
    return { ...calibration, ...(previous && { previous }) };
  } finally {
    await options.evaluator.release().catch(() => undefined);
  }
}
