/**
 * The local pool's throughput: decisions per hour of `runCycles` on examples/backtest (a
 * deterministic metric, so its candidates run side by side) through 1 and 2 slots, the same seed
 * and therefore the same candidates, alternating which goes first.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { calibrate } from '../src/core/calibration';
import { runCycles, type EngineEvent } from '../src/core/cycle';
import { readLessons } from '../src/core/lessons';
import { localPool } from '../src/evaluation/pool';
import { RunnerClient } from '../src/runner/client';
import { envInt, median, progress, type Context, type Measurement, type Row } from './lib';
import { RUNNER_PATH } from './runner';

const EXAMPLE = path.resolve(__dirname, '..', 'examples', 'backtest');

interface PoolRun {
  /** Lessons recorded. */
  decisions: number;
  /** From each cycle's proposal to its end: where the candidates are evaluated. */
  candidateMs: number;
  wholeMs: number;
  /** Outcome, patch and change of each lesson, sorted: equal across slot counts. */
  decided: string[];
}

async function engineOptions(workspace: string, storageRoot: string, slots: number, onEvent?: (event: EngineEvent) => void) {
  const runners = Array.from({ length: slots }, () => new RunnerClient({ runnerPath: RUNNER_PATH }));
  const options = { workspace, storageRoot, runner: runners[0]!, evaluator: localPool(runners, { workspace, storageRoot }), onEvent };
  return { options, dispose: () => Promise.all(runners.map((runner) => runner.dispose())) };
}

/** A copy of the example (its calibration included, when given) with sandboxes of its own: a cold start, as a new run has. */
async function copyExample(ctx: Context, calibration?: string): Promise<{ workspace: string; storageRoot: string }> {
  const workspace = await ctx.freshDir('pool-backtest');
  await fs.cp(EXAMPLE, workspace, { recursive: true });
  if (calibration) await fs.copyFile(calibration, path.join(workspace, '.rsi', 'calibration.json'));
  return { workspace, storageRoot: await ctx.freshDir('pool-sandboxes') };
}

async function run(ctx: Context, calibration: string, slots: number, cycles: number): Promise<PoolRun> {
  const { workspace, storageRoot } = await copyExample(ctx, calibration);
  let candidateMs = 0;
  let proposedAt = 0;
  const { options, dispose } = await engineOptions(workspace, storageRoot, slots, (event) => {
    if (event.kind === 'stage' && event.stage === 'propose') proposedAt = performance.now();
    if (event.kind === 'cycle') candidateMs += performance.now() - proposedAt;
  });
  const started = performance.now();
  try {
    await runCycles(options, cycles);
  } finally {
    await dispose();
  }
  const wholeMs = performance.now() - started;
  const { lessons } = await readLessons(workspace);
  const decided = lessons.map((l) => JSON.stringify([l.cycle, l.outcome, l.patchHash, l.metric?.change ?? null])).sort();
  return { decisions: lessons.length, candidateMs, wholeMs, decided };
}

export const poolThroughput: Measurement = {
  name: 'local pool throughput (examples/backtest)',
  how: 'runCycles in-process on fresh copies of examples/backtest (deterministic Sharpe ratio, tuner, 4 candidates a cycle, seed 1, the calibration done once beforehand and copied in, cold sandboxes each run), through localPool with 1 and with 2 slots, alternating which goes first; decisions per hour = lessons / time, over the candidate stages (proposal to cycle end) and over the whole run (baseline gate and A/A pair, final side-by-side measurement included). The lessons of every run are checked equal (outcome, patch, change).',
  async run(ctx: Context): Promise<Row[]> {
    await fs.access(RUNNER_PATH).catch(() => {
      throw new Error(`${RUNNER_PATH} is missing: run \`npm run build\` first (npm run bench does)`);
    });
    const cycles = envInt('BENCH_POOL_CYCLES', 3);
    const reps = envInt('BENCH_POOL_REPS', 2);
    const calibrated = await copyExample(ctx);
    const { options, dispose } = await engineOptions(calibrated.workspace, calibrated.storageRoot, 1);
    try {
      await calibrate(options);
    } finally {
      await dispose();
    }
    const calibration = path.join(calibrated.workspace, '.rsi', 'calibration.json');
    const runs: Record<1 | 2, PoolRun[]> = { 1: [], 2: [] };
    const loads: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      for (const slots of rep % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
        runs[slots].push(await run(ctx, calibration, slots, cycles));
        loads.push(os.loadavg()[0]!);
        progress(`pool: ${slots} slot(s), ${cycles} cycles: ${(runs[slots].at(-1)!.wholeMs / 1000).toFixed(1)} s`);
      }
    }
    const reference = runs[1][0]!.decided;
    for (const r of [...runs[1], ...runs[2]]) {
      if (JSON.stringify(r.decided) !== JSON.stringify(reference)) throw new Error('the runs decided differently: the pool must not change a decision');
    }
    ctx.raw.poolThroughput = { runs, loads, cores: os.availableParallelism() };
    const perHour = (r: PoolRun, key: 'candidateMs' | 'wholeMs') => (r.decisions / r[key]) * 3_600_000;
    const row = (what: string, key: 'candidateMs' | 'wholeMs', note?: string): Row => {
      const one = median(runs[1].map((r) => perHour(r, key)));
      const two = median(runs[2].map((r) => perHour(r, key)));
      return {
        measurement: this.name,
        what,
        ours: two,
        unit: 'decisions/h',
        base: { label: '1 slot', value: one },
        ratio: two / one,
        n: reps,
        note,
      };
    };
    const loadNote = `${reference.length} decisions a run, the same in every run; ${os.availableParallelism()} cores; 1-min load average after each run ${loads.map((x) => x.toFixed(2)).join(', ')}`;
    return [row('2 slots, candidate stages', 'candidateMs', loadNote), row(`2 slots, whole run of ${cycles} cycles`, 'wholeMs')];
  },
};
