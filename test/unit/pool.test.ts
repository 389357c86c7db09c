import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { setImmediate as settle } from 'node:timers/promises';
import type { EvaluationRequest, EvaluationResult, GateRequest, MeasureRequest, Overlay } from '../../src/protocol/evaluation';
import { errorKind } from '../../src/protocol/errors';
import { localPool, PoolEvaluator, type PoolSlot } from '../../src/evaluation/pool';
import type { CpuShare } from '../../src/protocol/runner';
import type { RunnerClient } from '../../src/runner/client';

/** A request in flight on a fake slot: the test ends it. */
interface Started {
  slot: number;
  what: string;
  signal?: AbortSignal;
  finish(result?: EvaluationResult): void;
  fail(error: Error): void;
}

/** Slots that record what they are asked and finish only when the test says so. */
function fakeSlots(count: number) {
  const started: Started[] = [];
  const calls: string[] = [];
  let prepare = () => Promise.resolve();
  const slots = Array.from({ length: count }, (_, slot): PoolSlot => {
    const run = (what: string, signal?: AbortSignal) =>
      new Promise<never>((resolve, reject) => {
        calls.push(`${slot}:${what}`);
        started.push({ slot, what, signal, finish: (result = { outcome: 'kept' }) => resolve(result as never), fail: reject });
      });
    return {
      gate: (request, options) => run(`gate ${request.commands[0]}`, options?.signal),
      measure: (request, options) => run(`measure ${request.metric.command}`, options?.signal),
      evaluate: (request, options) => run(`evaluate ${request.metric.command}`, options?.signal),
      prepare: () => (calls.push(`${slot}:prepare`), prepare()),
      idle: async () => void calls.push(`${slot}:idle`),
      release: async () => void calls.push(`${slot}:release`),
    };
  });
  return { slots, started, calls, onPrepare: (fn: () => Promise<void>) => (prepare = fn) };
}

const base: Overlay = {};
const sampling = (deterministic: boolean) => ({ minRuns: 1, maxRuns: 1, alpha: 0.05, direction: 'maximize' as const, deterministic, noiseFloor: 0, minEffect: 0 });
function evaluation(name: string, deterministic: boolean): EvaluationRequest {
  return { base, candidate: {}, gate: [], limits: { timeoutMs: 1000, outputBytes: 1000 }, metric: { command: name, read: 'wallTime', timeoutMs: 1000, outputBytes: 1000 }, sampling: sampling(deterministic), confirm: false } as EvaluationRequest;
}
const gate = (name: string): GateRequest => ({ base, candidate: {}, side: 'baseline', commands: [name], limits: { timeoutMs: 1000, outputBytes: 1000 } }) as GateRequest;
const measure = (name: string, deterministic: boolean): MeasureRequest => ({ ...evaluation(name, deterministic), pairs: 1 }) as MeasureRequest;

const running = (started: Started[]) => started.map((s) => `${s.slot}:${s.what}`);

test('deterministic requests run side by side up to the slots, each next one on the lowest free slot', async () => {
  const fake = fakeSlots(3);
  const pool = new PoolEvaluator(fake.slots);
  const results = ['a', 'b', 'c', 'd', 'e'].map((name) => pool.evaluate(evaluation(name, true)));
  await settle();
  assert.deepEqual(running(fake.started), ['0:evaluate a', '1:evaluate b', '2:evaluate c']);
  fake.started[1]!.finish();
  await settle();
  assert.deepEqual(running(fake.started).slice(3), ['1:evaluate d'], 'the freed slot takes the next in order');
  for (const s of fake.started.slice(0, 4)) s.finish();
  await settle();
  assert.deepEqual(running(fake.started).slice(4), ['0:evaluate e']);
  fake.started[4]!.finish();
  assert.equal((await Promise.all(results)).length, 5);
});

test('gates run side by side like deterministic metrics', async () => {
  const fake = fakeSlots(2);
  const pool = new PoolEvaluator(fake.slots);
  const both = [pool.gate(gate('x')), pool.gate(gate('y'))];
  await settle();
  assert.deepEqual(running(fake.started), ['0:gate x', '1:gate y']);
  for (const s of fake.started) s.finish({ ok: true, ms: 1 } as never);
  await Promise.all(both);
});

test('a timing metric runs alone: one at a time, after what is in flight, and nothing starts beside it', async () => {
  const fake = fakeSlots(2);
  const pool = new PoolEvaluator(fake.slots);
  const all = [pool.gate(gate('g')), pool.measure(measure('t1', false), {}), pool.evaluate(evaluation('t2', false)), pool.gate(gate('after'))];
  await settle();
  assert.deepEqual(running(fake.started), ['0:gate g'], 'the timing request waits for the gate; the gate behind it waits its turn');
  fake.started[0]!.finish({ ok: true, ms: 1 } as never);
  await settle();
  assert.deepEqual(running(fake.started).slice(1), ['0:measure t1']);
  fake.started[1]!.finish({ ok: true } as never);
  await settle();
  assert.deepEqual(running(fake.started).slice(2), ['0:evaluate t2']);
  fake.started[2]!.finish();
  await settle();
  assert.deepEqual(running(fake.started).slice(3), ['0:gate after']);
  fake.started[3]!.finish({ ok: true, ms: 1 } as never);
  await Promise.all(all);
});

test('parallelTiming: timing metrics run side by side too', async () => {
  const fake = fakeSlots(2);
  const pool = new PoolEvaluator(fake.slots, { parallelTiming: true });
  const both = [pool.evaluate(evaluation('t1', false)), pool.evaluate(evaluation('t2', false))];
  await settle();
  assert.deepEqual(running(fake.started), ['0:evaluate t1', '1:evaluate t2']);
  for (const s of fake.started) s.finish();
  await Promise.all(both);
});

test("parallelTiming: a local pool's slots pin their pairs to CPUs of their own; timings one at a time take all", async () => {
  const sharesAsked = async (parallelTiming: boolean) => {
    const shares: string[] = [];
    const runners = [0, 1].map(
      (slot) =>
        ({
          request: async (method: string, params: { cpuShare?: CpuShare }) => {
            if (method === 'evaluate') shares.push(`${slot}:${JSON.stringify(params.cpuShare ?? 'all')}`);
            return method === 'evaluate' ? { outcome: 'no-effect' } : {};
          },
        }) as unknown as RunnerClient,
    );
    const pool = localPool(runners, { workspace: '/ws', storageRoot: '/sandboxes' }, { parallelTiming });
    await Promise.all([pool.evaluate(evaluation('t1', false)), pool.evaluate(evaluation('t2', false))]);
    return shares.sort();
  };
  assert.deepEqual(await sharesAsked(true), ['0:{"slot":0,"slots":2}', '1:{"slot":1,"slots":2}']);
  assert.deepEqual(await sharesAsked(false), ['0:"all"', '0:"all"']);
});

test("a slot's failure reaches its own request only; the slot serves the next one", async () => {
  const fake = fakeSlots(2);
  const pool = new PoolEvaluator(fake.slots);
  const [a, b, c] = ['a', 'b', 'c'].map((name) => pool.evaluate(evaluation(name, true)));
  await settle();
  fake.started[1]!.fail(new Error('the runner exited unexpectedly'));
  await assert.rejects(b!, /exited unexpectedly/);
  await settle();
  assert.deepEqual(running(fake.started).slice(2), ['1:evaluate c']);
  fake.started[0]!.finish({ outcome: 'regressed' });
  fake.started[2]!.finish({ outcome: 'kept' });
  assert.equal((await a!).outcome, 'regressed');
  assert.equal((await c!).outcome, 'kept');
});

test('cancel: a queued request leaves the queue without starting; one in flight gets the signal', async () => {
  const fake = fakeSlots(1);
  const pool = new PoolEvaluator(fake.slots);
  const stop = new AbortController();
  const first = pool.evaluate(evaluation('a', true), { signal: stop.signal });
  const queued = pool.evaluate(evaluation('b', true), { signal: stop.signal });
  await settle();
  stop.abort();
  await assert.rejects(queued, (error) => errorKind(error) === 'cancelled');
  assert.equal(fake.started[0]!.signal?.aborted, true, 'the running request sees the abort');
  fake.started[0]!.fail(new Error('cancelled by the slot'));
  await assert.rejects(first);
  await settle();
  assert.deepEqual(running(fake.started), ['0:evaluate a'], 'b never started');
  await assert.rejects(pool.evaluate(evaluation('c', true), { signal: stop.signal }), (error) => errorKind(error) === 'cancelled');
});

test("a run's many requests leave no listener on its signal: only queued ones listen", async () => {
  const fake = fakeSlots(1);
  const pool = new PoolEvaluator(fake.slots);
  const run = new AbortController();
  const results = Array.from({ length: 12 }, (_, i) => pool.evaluate(evaluation(String(i), true), { signal: run.signal }));
  await settle();
  assert.equal(getEventListeners(run.signal, 'abort').length, 11, 'the queued ones');
  for (let i = 0; i < 12; i++) {
    fake.started[i]!.finish();
    await settle();
  }
  await Promise.all(results);
  assert.equal(getEventListeners(run.signal, 'abort').length, 0);
});

test('slot 0 takes the run lock before any slot runs, once a cycle; a refusal fails every waiting request', async () => {
  const fake = fakeSlots(2);
  let lockTaken!: () => void;
  fake.onPrepare(() => new Promise<void>((resolve) => (lockTaken = resolve)));
  const pool = new PoolEvaluator(fake.slots);
  const both = [pool.evaluate(evaluation('a', true)), pool.evaluate(evaluation('b', true))];
  await settle();
  assert.deepEqual(fake.calls, ['0:prepare'], 'nothing runs before the lock');
  lockTaken();
  await settle();
  assert.deepEqual(fake.calls.slice(1).sort(), ['0:evaluate a', '1:evaluate b']);
  for (const s of fake.started) s.finish();
  await Promise.all(both);

  await pool.idle();
  fake.onPrepare(() => Promise.reject(new Error('this workspace is in use by another RSI run')));
  const refused = [pool.evaluate(evaluation('c', true)), pool.evaluate(evaluation('d', true))];
  for (const request of refused) await assert.rejects(request, /in use by another RSI run/);
  assert.equal(fake.started.length, 2, 'neither started');
  assert.equal(fake.calls.filter((c) => c === '0:prepare').length, 2, 'idle made the next request take the lock again');
});

test('lazy: a run that needs one slot uses only slot 0, and release leaves the unused slots alone (slot 0 last)', async () => {
  const fake = fakeSlots(3);
  const pool = new PoolEvaluator(fake.slots);
  const one = pool.evaluate(evaluation('a', true));
  await settle();
  fake.started[0]!.finish();
  await one;
  await pool.release();
  assert.deepEqual(fake.calls, ['0:prepare', '0:evaluate a', '0:release']);

  fake.calls.length = 0;
  const two = [pool.evaluate(evaluation('b', true)), pool.evaluate(evaluation('c', true))];
  await settle();
  for (const s of fake.started.slice(1)) s.finish();
  await Promise.all(two);
  await pool.release();
  assert.deepEqual(fake.calls.slice(-2), ['1:release', '0:release'], 'the slot used is released, then slot 0 drops the lock');
});
