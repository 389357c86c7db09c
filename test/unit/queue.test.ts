/**
 * The queue backend between a coordinator (QueueEvaluator) and workers (serveQueue) in this
 * process, on a redis-server of the test's own, with a scripted local evaluator on the worker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { QueueEvaluator, type QueueEvaluatorOptions } from '../../src/evaluation/queue';
import type { Evaluator } from '../../src/core/evaluator';
import type { EvaluationOptions, EvaluationRequest } from '../../src/protocol/evaluation';
import { serveQueue } from '../../src/evaluation/worker';
import { errorKind } from '../../src/protocol/errors';
import { waitFor } from '../processes';
import { freePort, startRedis, type RedisServer } from '../redisServer';

let server: RedisServer;
let workspace: string;

before(async () => {
  server = await startRedis();
  workspace = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-queue-ws-'));
  await fs.writeFile(path.join(workspace, 'bench.js'), 'console.log(42)\n');
});

after(() => server.stop());

const request: EvaluationRequest = {
  base: {},
  candidate: { 'bench.js': 'console.log(41)\n' },
  gate: [],
  limits: { timeoutMs: 10_000, outputBytes: 1 << 16 },
  metric: { command: 'node bench.js', read: 'wallTime', timeoutMs: 10_000, outputBytes: 1 << 16 },
  sampling: { minRuns: 4, maxRuns: 8, alpha: 0.05, direction: 'minimize', deterministic: false, noiseFloor: 0.5, minEffect: 0.01 },
  confirm: false,
};

/** A worker in this process whose local evaluator runs `evaluate` (what it returns is the result's detail, as JSON); stop() ends it. */
function startWorker(evaluate: (workspace: string, request: EvaluationRequest, options: EvaluationOptions) => Promise<object>, version = '1.0.0') {
  const controller = new AbortController();
  const logs: string[] = [];
  const local = (dir: string): Evaluator => ({
    gate: async () => ({ ok: true, ms: 1 }),
    measure: async () => ({ ok: true, baseline: [10, 11, 10, 11], candidate: [10, 11, 11, 10], comparison: {} as never, peakRssBytes: { baseline: 0, candidate: 0 } }),
    evaluate: async (r, o) => ({ outcome: 'kept', detail: JSON.stringify(await evaluate(dir, r, o ?? {})) }),
    release: async () => {},
  });
  const served = serveQueue({ url: server.url, version, storage: mkdtempSync(path.join(os.tmpdir(), 'rsi-worker-')), host: 'testhost', localEvaluator: local, log: (l) => logs.push(l), signal: controller.signal });
  return { logs, served, stop: () => (controller.abort(), served) };
}

async function coordinator(options: Partial<QueueEvaluatorOptions> = {}): Promise<QueueEvaluator> {
  return QueueEvaluator.connect({ url: server.url, workspace, version: '1.0.0', calibration: { pairs: 4, decisionPairs: 8 }, noWorkerTimeoutMs: 60_000, ...options });
}

test('an evaluation runs whole on a worker, on the workspace rebuilt there, with its progress and its own noise floor', async () => {
  const worker = startWorker(async (dir, r, o) => {
    o.onProgress?.({ kind: 'phase', phase: 'measure', runs: { baseline: 1, candidate: 1 } });
    return { seen: await fs.readFile(path.join(dir, 'bench.js'), 'utf8'), candidate: r.candidate, floor: r.sampling.noiseFloor };
  });
  const evaluator = await coordinator();
  try {
    const progress: unknown[] = [];
    const result = await evaluator.evaluate(request, { onProgress: (e) => progress.push(e) });
    const seen = JSON.parse(result.detail!);
    assert.equal(seen.seen, 'console.log(42)\n');
    assert.deepEqual(seen.candidate, request.candidate);
    assert.match(String(result.worker), new RegExp(`^testhost:${process.pid}$`));
    // The worker's floor (A/A pairs that differ by about 5%) replaced the coordinator's 50%.
    assert.ok(seen.floor > 0 && seen.floor < 0.5, String(seen.floor));
    assert.ok(progress.some((e) => (e as { kind: string; worker?: string }).kind === 'phase' && (e as { worker?: string }).worker === result.worker), JSON.stringify(progress));
  } finally {
    await evaluator.release();
    await worker.stop();
  }
});

test('a worker of another rsi version refuses the job: one sentence on both sides', async () => {
  const worker = startWorker(async () => ({}), '0.9.0');
  const evaluator = await coordinator();
  try {
    await assert.rejects(evaluator.evaluate(request), (err: Error) => errorKind(err) === 'user' && /runs rsi 0\.9\.0 and this cycle rsi 1\.0\.0: run the same version on both/.test(err.message));
    assert.ok(worker.logs.some((l) => /refused, it comes from rsi 1\.0\.0 and this worker runs rsi 0\.9\.0/.test(l)), worker.logs.join('\n'));
  } finally {
    await evaluator.release();
    await worker.stop();
  }
});

test('with no worker listening, a request fails after the configured wait with what to do', async () => {
  const evaluator = await coordinator({ noWorkerTimeoutMs: 1 });
  try {
    await assert.rejects(evaluator.evaluate(request), /no rsi worker has listened on redis:\/\/127\.0\.0\.1:\d+ for 0 s: start one with `rsi worker --queue/);
  } finally {
    await evaluator.release();
  }
});

test('a cancelled request stops the worker running it', async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let abortedOnWorker = false;
  const worker = startWorker(
    (_dir, _r, o) =>
      new Promise((_, reject) => {
        started();
        o.signal?.addEventListener('abort', () => ((abortedOnWorker = true), reject(new Error('aborted'))));
      }),
  );
  const evaluator = await coordinator({ calibration: null });
  try {
    const controller = new AbortController();
    const result = evaluator.evaluate(request, { signal: controller.signal });
    await running;
    controller.abort();
    await assert.rejects(result, (err) => errorKind(err) === 'cancelled');
    assert.ok(await waitFor(() => abortedOnWorker, 10_000), 'the worker was told to stop');
  } finally {
    await evaluator.release();
    await worker.stop();
  }
});

test("a cycle's requests see the files as its first request found them; the next cycle sees them again", async () => {
  const worker = startWorker(async (dir) => ({ seen: await fs.readFile(path.join(dir, 'data.txt'), 'utf8') }));
  const evaluator = await coordinator({ calibration: null });
  const file = path.join(workspace, 'data.txt');
  const seen = async (epoch: string) => JSON.parse((await evaluator.evaluate({ ...request, epoch })).detail!).seen;
  try {
    await fs.writeFile(file, 'one');
    assert.equal(await seen('run/1'), 'one');
    await fs.writeFile(file, 'two');
    assert.equal(await seen('run/1'), 'one');
    assert.equal(await seen('run/2'), 'two');
  } finally {
    await fs.rm(file);
    await evaluator.release();
    await worker.stop();
  }
});

test('a snapshot evicted from Redis is uploaded again, and the request goes on', async () => {
  const evaluator = await coordinator({ calibration: null });
  const first = startWorker(async () => ({}));
  await evaluator.evaluate(request);
  await first.stop();
  const redis = new Redis(server.url);
  try {
    await redis.del(...(await redis.keys('rsi:blob:*')));
    // A new worker has no cache: it must fetch every blob, and finds none.
    const second = startWorker(async (dir) => ({ seen: await fs.readFile(path.join(dir, 'bench.js'), 'utf8') }));
    try {
      const result = await evaluator.evaluate(request);
      assert.equal(JSON.parse(result.detail!).seen, 'console.log(42)\n');
      assert.ok(second.logs.some((l) => /bench\.js of the workspace snapshot is not in Redis/.test(l)), second.logs.join('\n'));
    } finally {
      await second.stop();
    }
  } finally {
    redis.disconnect();
    await evaluator.release();
  }
});

test('a Redis that cannot be reached is one sentence, at once', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  await assert.rejects(QueueEvaluator.connect({ url, workspace, version: '1.0.0', calibration: null, noWorkerTimeoutMs: 1000 }), (err: Error) => errorKind(err) === 'user' && err.message.startsWith(`cannot reach the queue's Redis at ${url} (`));
});
