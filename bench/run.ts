/**
 * `npm run bench`: measurements of RSI Loop against a baseline measured in the same run (bare
 * node, native git, a naive harness). Figures are ratios to that baseline, with how they were
 * measured and on which machine; the same results go to .cache/bench-results.json.
 *
 * To add a measurement: write a `Measurement` (name, how, run(ctx) -> rows) and list it below.
 * Env: BENCH_ONLY=comma-separated name prefixes; BENCH_DECISIONS (A/A decisions and power trials per condition; 300 lets a 95% upper bound
 * fall under 1%), BENCH_DECISION_MINUTES, BENCH_DECISION_RESAMPLED, BENCH_BIAS_PAIRS, BENCH_START_RUNS,
 * BENCH_SANDBOX_REPS, BENCH_RESET_RUNS, BENCH_SPARSE_REPS, BENCH_AGENT_REPS, BENCH_AGENT_RESETS, BENCH_HISTORY_REPS, BENCH_LESSONS_RUNS,
 * BENCH_CYCLES, BENCH_TUNER_SEEDS, BENCH_TUNER_CYCLES, BENCH_GUARD_SEEDS, BENCH_GUARD_CYCLES, BENCH_POOL_CYCLES, BENCH_POOL_REPS, BENCH_QUEUE_REPS, BENCH_QUEUE_CYCLES; BENCH_KEEP=1 keeps the temp dir (its files are deleted otherwise).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { aaFalseKeeps } from './aa';
import { guardedBacktest } from './guards';
import { agentCopyBuild } from './agentCopy';
import { historyIndex } from './history';
import { lessonsListing } from './lessons';
import { longRun } from './longRun';
import { Context, formatTable, progress, type Measurement, type Row } from './lib';
import { profileOverhead, promptSize, promptWithProfile } from './prompt';
import { poolThroughput } from './pool';
import { queueThroughput } from './queue';
import { runnerColdStart } from './runner';
import { sandboxBuild, sandboxReset } from './sandbox';
import { sideBias } from './sideBias';
import { sparseCopy } from './sparse';
import { tunerSearch } from './tuner';

const MEASUREMENTS: Measurement[] = [
  runnerColdStart,
  sandboxBuild,
  sandboxReset,
  sparseCopy,
  agentCopyBuild,
  aaFalseKeeps,
  sideBias,
  historyIndex,
  promptSize,
  lessonsListing,
  profileOverhead,
  promptWithProfile,
  longRun,
  tunerSearch,
  guardedBacktest,
  poolThroughput,
  queueThroughput,
];

const RESULTS = path.resolve(__dirname, '..', '.cache', 'bench-results.json');

function machine() {
  const cpus = os.cpus();
  return {
    cpu: `${cpus.length} x ${cpus[0]?.model ?? 'unknown cpu'}`,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  const selected = only ? MEASUREMENTS.filter((m) => only.some((prefix) => m.name.startsWith(prefix))) : MEASUREMENTS;
  if (selected.length === 0) throw new Error(`BENCH_ONLY matches none of: ${MEASUREMENTS.map((m) => m.name).join('; ')}`);
  const started = performance.now();
  const loadStart = load();
  const ctx = await Context.create();
  let raw: Record<string, unknown> = {};
  const done: { name: string; how: string; rows: Row[]; seconds: number }[] = [];
  try {
    for (const m of selected) {
      progress(`${m.name}...`);
      const t = performance.now();
      const rows = await m.run(ctx);
      done.push({ name: m.name, how: m.how, rows, seconds: Math.round((performance.now() - t) / 100) / 10 });
    }
  } finally {
    raw = ctx.raw;
    const keep = process.env.BENCH_KEEP === '1';
    progress(keep ? `keeping ${ctx.root} (BENCH_KEEP=1)` : `deleting ${ctx.root}`);
    await ctx.dispose(keep);
  }
  const loadEnd = load();
  const wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  const info = { time: new Date().toISOString(), machine: machine(), loadavg: { start: loadStart, end: loadEnd }, wallSeconds };

  console.log(`# RSI Loop bench, ${info.time}`);
  console.log(`machine: ${info.machine.cpu}, ${info.machine.memoryGiB} GiB, ${info.machine.os}, node ${info.machine.node}`);
  console.log(`load average (1, 5, 15 min): start ${loadStart.join(' ')}, end ${loadEnd.join(' ')}`);
  console.log('ours and baseline are medians of n unless stated; ratio = ours / baseline, both measured in this run.');
  console.log(formatTable(done));
  console.log(`\nwall time ${wallSeconds} s (${done.map((m) => `${m.name.split(' (')[0]} ${m.seconds} s`).join(', ')})`);

  await fs.mkdir(path.dirname(RESULTS), { recursive: true });
  await fs.writeFile(RESULTS, JSON.stringify({ ...info, measurements: done, raw }, null, 2) + '\n');
  console.log(`results: ${path.relative(process.cwd(), RESULTS)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
