import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MetricSpec, Side } from '../runner/protocol';
import { loadConfig, metricSpec, type RsiConfig } from './config';
import type { EngineOptions } from './cycle';
import { seededRandom } from './random';
import { compare, isConstant, median } from './stats';

/** The noise floor of a workspace's metric on this machine, cached in `.rsi/calibration.json`. */
export interface Calibration {
  v: 1;
  time: string;
  /** Relative change that A/A comparisons of the cycle's largest sample stay below 95% of the time. */
  floor: number;
  runs: number;
  deterministic: boolean;
  /** The floor holds for this metric command on this machine only. */
  metricCommand: string;
  machine: string;
  /** Median and median absolute deviation of all A/A runs, for reports. */
  spread: { median: number; mad: number };
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

/**
 * The noise floor from A/A samples (the same code on both sides, runs interleaved): resample
 * comparisons of `n` runs a side and take the 95th percentile of the absolute relative change they
 * report. With `n` the most runs a decision may take, the floor is the difference this loop cannot
 * tell from noise even at its best; the significance test then guards what lies above it.
 * Seeded, so a calibration is reproducible from its samples.
 */
export function noiseFloor(a: number[], b: number[], n: number, trials = 400): number {
  if (isConstant([...a, ...b])) return 0;
  const random = seededRandom(0x5eed);
  const draw = (xs: number[]) => Array.from({ length: n }, () => xs[Math.floor(random() * xs.length)]);
  const changes = Array.from({ length: trials }, () => Math.abs(compare(draw(a), draw(b)).change)).sort((x, y) => x - y);
  return changes[Math.floor(0.95 * (trials - 1))];
}

export async function readCalibration(workspace: string, metricCommand: string): Promise<Calibration | undefined> {
  try {
    const cached = JSON.parse(await fs.readFile(path.join(workspace, CALIBRATION_FILE), 'utf8')) as Calibration;
    const valid = cached.v === 1 && typeof cached.floor === 'number' && cached.metricCommand === metricCommand && cached.machine === machineId();
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

/**
 * A/A runs on the prepared sandboxes (the candidate side holding the baseline too), interleaved,
 * then the floor they imply at the cycle's sample size.
 */
export async function measureNoise(options: EngineOptions, config: RsiConfig, metric: MetricSpec): Promise<Calibration> {
  const { runner, signal } = options;
  await runner.request('setCandidate', { files: {} }, { signal });
  const runs = config.noise.calibrationRuns;
  const values: Record<Side, number[]> = { baseline: [], candidate: [] };
  for (let i = 0; i < runs; i++) {
    for (const side of ['baseline', 'candidate'] as const) {
      const sample = await runner.request('sample', { metric, side, runs: 1, stopWhenConstant: false }, { signal });
      values[side].push(...sample.values);
    }
    options.onEvent?.({ kind: 'calibration', pairs: i + 1, total: runs });
  }
  const all = [...values.baseline, ...values.candidate];
  return {
    v: 1,
    time: new Date().toISOString(),
    floor: noiseFloor(values.baseline, values.candidate, config.sampling.maxRuns),
    runs,
    deterministic: isConstant(all),
    metricCommand: config.metric.command,
    machine: machineId(),
    spread: { median: median(all), mad: mad(all) },
  };
}

/** `rsi calibrate`: measure the noise floor of the workspace's metric afresh and cache it. */
export async function calibrate(options: EngineOptions): Promise<Calibration> {
  const { workspace, runner, signal } = options;
  const config = await loadConfig(workspace);
  await runner.request('prepare', { workspace, storageRoot: options.storageRoot, overlay: {} }, { signal });
  try {
    const calibration = await measureNoise(options, config, metricSpec(config));
    await writeCalibration(workspace, calibration);
    return calibration;
  } finally {
    await runner.request('release', {}).catch(() => undefined);
  }
}
