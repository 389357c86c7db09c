/**
 * Cycles through a Redis queue for real: a redis-server of the test's own, `rsi worker` processes
 * and `rsi cycle --queue`, on copies of examples/backtest (a deterministic metric), against the
 * lessons a local run records with the same seed.
 *
 * A worker started with RSI_TEST_HOLD holds every command of its jobs (hold.js, the gate's first
 * command, waits for a file that never comes): the test knows a job is in its hands, and can kill
 * or cancel it there.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { CLI, readLessonLines, runCli } from './helpers';
import { waitFor } from '../processes';
import { freePort, startRedis, type RedisServer } from '../redisServer';
import { QUEUE_NAME } from '../../src/evaluation/jobs';

let redis: RedisServer;
const children: ChildProcess[] = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await redis.stop();
});

const HOLD = `const fs = require('node:fs');
const file = process.env.RSI_TEST_HOLD;
while (file && !fs.existsSync(file)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
`;

/** A temp copy of examples/backtest whose gate first runs hold.js. */
async function backtest(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-queue-e2e-'));
  await fs.cp(path.resolve(__dirname, '../../examples/backtest'), dir, { recursive: true });
  const configFile = path.join(dir, '.rsi/config.json');
  const config = JSON.parse(await fs.readFile(configFile, 'utf8'));
  config.gate = ['node hold.js', ...config.gate];
  config.protected = [...config.protected, 'hold.js'];
  config.noise = { calibrationRuns: 8 }; // the fewest: enough to prove the metric deterministic
  await fs.writeFile(configFile, JSON.stringify(config, null, 2));
  await fs.writeFile(path.join(dir, 'hold.js'), HOLD);
  return dir;
}

interface WorkerProcess {
  child: ChildProcess;
  log: () => string;
}

/** `rsi worker` in a process of its own, with sandboxes of its own; resolves once it serves. */
async function startWorker(env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  const sandboxes = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-worker-'));
  const child = spawn(process.execPath, [CLI, 'worker', '--queue', redis.url], { env: { ...process.env, RSI_SANDBOX_ROOT: sandboxes, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  assert.ok(await waitFor(() => /serving rsi/.test(log) || child.exitCode !== null, 30_000), log);
  assert.equal(child.exitCode, null, log);
  return { child, log: () => log };
}

async function stop(worker: WorkerProcess): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = once(worker.child, 'exit');
  worker.child.kill('SIGINT');
  await exited;
}

/**
 * What the lessons decided, without what differs from run to run (ids, times, durations, the
 * worker), in patch order: lessons are recorded as they are decided, and workers decide in parallel.
 */
function decided(lessons: Array<Record<string, any>>) {
  return lessons
    .map(({ outcome, patchHash, hypothesis, metric }) => ({ outcome, patchHash, hypothesis, baseline: metric?.baseline, candidate: metric?.candidate, change: metric?.change }))
    .sort((a, b) => String(a.patchHash).localeCompare(String(b.patchHash)));
}

/** `rsi cycle` in the background: its result, and the process (to signal it). */
function cycle(workspace: string, args: string[]) {
  const child = spawn(process.execPath, [CLI, 'cycle', '--workspace', workspace, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, done, stderr: () => stderr };
}

let local: Array<Record<string, any>>;

test('a local run, for comparison', async () => {
  const workspace = await backtest();
  const run = await runCli(['cycle', '--workspace', workspace, '--json'], { env: { RSI_SANDBOX_ROOT: await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-local-')) } });
  assert.equal(run.code, 0, run.stderr);
  local = await readLessonLines(workspace);
  assert.ok(local.length > 0);
});

test('through two workers, a cycle records the lessons a local run records, each naming its worker', async () => {
  const workers = [await startWorker(), await startWorker()];
  try {
    const workspace = await backtest();
    const run = await cycle(workspace, ['--queue', redis.url]).done;
    assert.equal(run.code, 0, run.stderr);
    const lessons = await readLessonLines(workspace);
    assert.deepEqual(decided(lessons), decided(local));
    const names = workers.map((w) => `:${w.child.pid}`);
    for (const lesson of lessons.filter((l) => l.metric)) assert.ok(names.some((n) => String(lesson.worker).endsWith(n)), `worker ${lesson.worker}`);
  } finally {
    await Promise.all(workers.map(stop));
  }
});

test('a worker killed mid-job: the job is retried on another, and its lesson recorded once', async () => {
  const held = await startWorker({ RSI_TEST_HOLD: path.join(os.tmpdir(), 'rsi-never-there') });
  const workspace = await backtest();
  const run = cycle(workspace, ['--queue', redis.url]);
  assert.ok(await waitFor(() => /job \S+: \w+/.test(held.log()), 60_000), held.log());
  const other = await startWorker();
  try {
    held.child.kill('SIGKILL');
    const result = await run.done;
    assert.equal(result.code, 0, result.stderr);
    const lessons = await readLessonLines(workspace);
    assert.deepEqual(decided(lessons), decided(local));
    assert.equal(new Set(lessons.map((l) => l.id)).size, lessons.length);
    assert.match(other.log(), /\(attempt 2\)/);
  } finally {
    await stop(other);
  }
});

test('stopping the coordinator cancels its jobs: the worker stops the one it holds, and none stays queued', async () => {
  const held = await startWorker({ RSI_TEST_HOLD: path.join(os.tmpdir(), 'rsi-never-there') });
  try {
    const workspace = await backtest();
    const run = cycle(workspace, ['--queue', redis.url]);
    assert.ok(await waitFor(() => /job \S+: \w+/.test(held.log()), 60_000), held.log());
    run.child.kill('SIGINT');
    const result = await run.done;
    assert.equal(result.code, 130, result.stderr);
    assert.ok(await waitFor(() => /cancelled by its coordinator/.test(held.log()), 30_000), held.log());
    const queue = new Queue(QUEUE_NAME, { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      // The cancelled job ends once the worker has killed what it ran: wait for that, then nothing is left.
      let counts: Record<string, number> = {};
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
        counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if (Object.values(counts).every((n) => n === 0)) break;
      }
      assert.ok(Object.values(counts).every((n) => n === 0), `${JSON.stringify(counts)}\n${held.log()}`);
    } finally {
      await queue.close();
    }
    assert.equal(held.child.exitCode, null, 'the worker serves on');
  } finally {
    await stop(held);
  }
});

test('a Redis that cannot be reached is one sentence: exit 1 for the cycle and the worker; a URL that is no redis:// one is a usage error', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  const workspace = await backtest();
  for (const args of [['cycle', '--workspace', workspace, '--queue', url], ['worker', '--queue', url]]) {
    const run = await runCli(args);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`^rsi: cannot reach the queue's Redis at ${url} \\(.*\\): start it, or check the URL\\n$`));
  }
  const bad = await runCli(['worker', '--queue', 'http://example.com']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^rsi: --queue must be a redis:\/\/HOST:PORT URL, not "http:\/\/example\.com"/);
});
