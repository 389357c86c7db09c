/**
 * Cycles through the Redis queue against cycles on this machine: `rsi cycle` (the built CLI) on
 * fresh copies of examples/backtest (deterministic, the same seed: the same candidates each time),
 * locally and through 1 and 2 `rsi worker` processes on this machine, on a redis-server of the
 * bench's own. Each configuration runs BENCH_QUEUE_REPS times, alternating, from a cold start
 * (new sandboxes, new workers: the first snapshot upload and the workers' rebuilding are counted).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startRedis } from '../test/redisServer';
import { envInt, median, progress, type Context, type Measurement, type Row } from './lib';

const CLI = path.resolve(__dirname, '..', 'dist', 'cli.js');
const EXAMPLE = path.resolve(__dirname, '..', 'examples', 'backtest');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) =>
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`rsi ${args[0]} exited ${code}: ${stderr.slice(-2000)}`)))),
  );
}

async function startWorker(url: string, sandboxes: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'worker', '--queue', url], { env: { ...process.env, RSI_SANDBOX_ROOT: sandboxes }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  while (!/serving rsi/.test(log)) {
    if (child.exitCode !== null) throw new Error(`rsi worker exited ${child.exitCode}: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

/** One cold run of `cycles` cycles: its wall time and the decisions it recorded. */
async function coldRun(ctx: Context, cycles: number, queue?: { url: string; workers: number }): Promise<{ ms: number; decisions: number }> {
  const workspace = await ctx.freshDir('queue-ws');
  await fs.cp(EXAMPLE, workspace, { recursive: true });
  const workers: ChildProcess[] = [];
  try {
    for (let i = 0; i < (queue?.workers ?? 0); i++) workers.push(await startWorker(queue!.url, await ctx.freshDir('queue-worker')));
    const started = performance.now();
    await run(['cycle', '--workspace', workspace, '--cycles', String(cycles), ...(queue ? ['--queue', queue.url] : [])], { RSI_SANDBOX_ROOT: await ctx.freshDir('queue-local') });
    const ms = performance.now() - started;
    const lessons = (await fs.readFile(path.join(workspace, '.rsi', 'lessons.jsonl'), 'utf8')).split('\n').filter(Boolean);
    return { ms, decisions: lessons.length };
  } finally {
    for (const worker of workers) {
      const exited = once(worker, 'exit');
      worker.kill('SIGINT');
      await exited;
    }
  }
}

export const queueThroughput: Measurement = {
  name: 'cycles through a Redis queue',
  how: 'rsi cycle on fresh copies of examples/backtest (deterministic, 4 candidates a cycle, same seed), from a cold start: locally, then through 1 and 2 rsi worker processes on this same machine, alternating, BENCH_QUEUE_REPS runs each of BENCH_QUEUE_CYCLES cycles; decisions = lessons recorded. Overhead per candidate = (queued with 1 worker - local) / decisions.',
  async run(ctx: Context): Promise<Row[]> {
    const reps = envInt('BENCH_QUEUE_REPS', 2);
    const cycles = envInt('BENCH_QUEUE_CYCLES', 3);
    const redis = await startRedis();
    const configs = [{ label: 'local', workers: 0 }, { label: '1 worker', workers: 1 }, { label: '2 workers', workers: 2 }];
    const samples = new Map(configs.map((c) => [c.label, [] as { ms: number; decisions: number }[]]));
    try {
      for (let rep = 0; rep < reps; rep++) {
        for (const config of configs) {
          progress(`queue: ${config.label}, run ${rep + 1} of ${reps}`);
          samples.get(config.label)!.push(await coldRun(ctx, cycles, config.workers > 0 ? { url: redis.url, workers: config.workers } : undefined));
        }
      }
    } finally {
      await redis.stop();
    }
    ctx.raw.queueThroughput = Object.fromEntries(samples);
    const perHour = (label: string) => median(samples.get(label)!.map((s) => (s.decisions / s.ms) * 3_600_000));
    const msPerDecision = (label: string) => median(samples.get(label)!.map((s) => s.ms / s.decisions));
    const local = perHour('local');
    const rows: Row[] = configs.slice(1).map((c) => ({
      measurement: 'cycles through a Redis queue',
      what: `decisions per hour through ${c.label}`,
      ours: perHour(c.label),
      unit: '/h',
      base: { label: 'local', value: local },
      ratio: perHour(c.label) / local,
      n: reps,
    }));
    rows.push({
      measurement: 'cycles through a Redis queue',
      what: 'decisions per hour: 2 workers against 1',
      ours: perHour('2 workers'),
      unit: '/h',
      base: { label: '1 worker', value: perHour('1 worker') },
      ratio: perHour('2 workers') / perHour('1 worker'),
      n: reps,
      note: `two workers share this machine's ${os.cpus().length} cores with the coordinator (and anything else running)`,
    });
    rows.push({
      measurement: 'cycles through a Redis queue',
      what: 'queue overhead per candidate (1 worker - local)',
      ours: msPerDecision('1 worker') - msPerDecision('local'),
      unit: 'ms',
      base: { label: 'local per candidate', value: msPerDecision('local') },
      n: reps,
    });
    return rows;
  },
};
