import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { allowedCpus, parseCpuList, shareOf } from '../../src/process/cpus';
import { compare, cpuTimerInfo, sample } from '../../src/runner/measure';
import type { MetricSpec } from '../../src/protocol/metric';

const dirs = { baseline: os.tmpdir(), candidate: os.tmpdir() };
const cpu = (command: string): MetricSpec => ({ command, read: 'cpuTime', timeoutMs: 30_000, outputBytes: 1 << 16 });
const spin = (ms: number) => `node -e "const t=process.cpuUsage();while((process.cpuUsage(t).user+process.cpuUsage(t).system)<${ms}e3){}"`;

test('cpuTime: CPU time of the whole process tree, in microseconds, the output untouched', async () => {
  const run = async (command: string) => (await sample({ metric: cpu(command), side: 'baseline', runs: 1 }, dirs, new AbortController().signal, () => {})).values[0]!;
  const one = await run(spin(60));
  // Two spinning grandchildren behind a shell: both count.
  const two = await run(`${spin(60)} & ${spin(60)}; wait`);
  assert.ok(one >= 60 && one < 400, `one ${one}`);
  assert.ok(two >= 120 && two > one + 40, `one ${one}, two ${two}`);
  // Microseconds (zsh, or getrusage through perl where zsh is absent): neither the 10 ms ticks of
  // /proc's cutime nor bash's whole milliseconds.
  const values = await Promise.all([run(spin(20)), run(spin(20)), run(spin(20))]);
  assert.ok(values.some((v) => !Number.isInteger(v)), `values ${values}`);
  assert.equal(cpuTimerInfo()?.resolutionMs, 0.001);
});

test('cpuTime: a failing command is a failure, its stderr reported, not a number', async () => {
  await assert.rejects(
    sample({ metric: cpu('echo oops >&2; exit 3'), side: 'baseline', runs: 1 }, dirs, new AbortController().signal, () => {}),
    /exited with code 3\noops/,
  );
});

test('cpuTime: a command killed by a signal reports it as the shells do (128 + the signal)', async () => {
  await assert.rejects(
    sample({ metric: cpu('echo dying >&2; kill -TERM $$'), side: 'baseline', runs: 1 }, dirs, new AbortController().signal, () => {}),
    /exited with code 143\ndying/,
  );
});

test('pairs alternate which side runs first, so what a first run leaves to the second falls on both sides alike', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'rsi-order-'));
  const log = path.join(root, 'order.log');
  const sides = { baseline: path.join(root, 'a'), candidate: path.join(root, 'b') };
  for (const [side, dir] of Object.entries(sides)) {
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'side'), side[0]!);
  }
  const metric: MetricSpec = { command: `cat side >> ${JSON.stringify(log)}; echo 1`, read: { regex: '(\\d+)' }, timeoutMs: 30_000, outputBytes: 1024 };
  const policy = { minRuns: 4, maxRuns: 4, alpha: 0.05, noiseFloor: 0, direction: 'minimize' as const };
  const result = await compare({ metric, policy, extend: { baseline: [], candidate: [], pairs: 4 } }, sides, new AbortController().signal, () => {});
  assert.equal(result.ok, true);
  assert.equal(readFileSync(log, 'utf8'), 'bccbbccb');
});

test('pinned pairs: both runs of a pair on one CPU, each CPU taking two pairs of opposite order in turn', { skip: allowedCpus().length < 2 && 'needs Linux and two CPUs to choose from' }, async () => {
  // The command reports the CPUs it may run on; a pinned one may run on exactly one ("0-1" would not read).
  const metric: MetricSpec = { command: 'grep Cpus_allowed_list /proc/self/status', read: { regex: 'list:\\s+(\\d+)\\s*$' }, timeoutMs: 30_000, outputBytes: 1024 };
  const policy = { minRuns: 4, maxRuns: 4, alpha: 0.05, noiseFloor: 0, direction: 'minimize' as const };
  const result = await compare({ metric, policy, extend: { baseline: [], candidate: [], pairs: 4 }, pinPairs: true }, dirs, new AbortController().signal, () => {});
  assert.ok(result.ok);
  const cpus = allowedCpus();
  const expected = [0, 1, 2, 3].map((pair) => cpus[Math.floor(pair / 2) % cpus.length]!);
  assert.deepEqual({ baseline: result.baseline, candidate: result.candidate }, { baseline: expected, candidate: expected });
  // Pairs alternate their order, so a CPU that took only every other pair would see one order only.
  const ordersOn = new Map<number, Set<number>>();
  result.baseline.forEach((cpu, pair) => ordersOn.set(cpu, (ordersOn.get(cpu) ?? new Set<number>()).add(pair % 2)));
  for (const [cpu, orders] of ordersOn) assert.equal(orders.size, 2, `CPU ${cpu} ran pairs of one order only`);
});

test("pinned pairs of a pool slot that times beside another stay on the slot's own CPUs", { skip: allowedCpus().length < 2 && 'needs Linux and two CPUs to choose from' }, async () => {
  const metric: MetricSpec = { command: 'grep Cpus_allowed_list /proc/self/status', read: { regex: 'list:\\s+(\\d+)\\s*$' }, timeoutMs: 30_000, outputBytes: 1024 };
  const policy = { minRuns: 4, maxRuns: 4, alpha: 0.05, noiseFloor: 0, direction: 'minimize' as const };
  const result = await compare({ metric, policy, extend: { baseline: [], candidate: [], pairs: 4 }, pinPairs: true, cpuShare: { slot: 1, slots: 2 } }, dirs, new AbortController().signal, () => {});
  assert.ok(result.ok);
  const mine = allowedCpus().filter((_, i) => i % 2 === 1);
  assert.ok([...result.baseline, ...result.candidate].every((cpu) => mine.includes(cpu)), `slot 1 of 2 ran on ${result.baseline}, not only on ${mine}`);
});

test("a slot's share of the CPUs: every slots-th from its own, or one it shares when the CPUs are fewer than the slots", () => {
  assert.deepEqual(shareOf([0, 1, 2, 3], { slot: 1, slots: 2 }), [1, 3]);
  assert.deepEqual(shareOf([0, 1, 2, 3], { slot: 0, slots: 3 }), [0, 3]);
  assert.deepEqual(shareOf([0, 1], { slot: 3, slots: 4 }), [1]);
  assert.deepEqual(shareOf([0, 1], undefined), [0, 1]);
  assert.deepEqual(shareOf([], { slot: 1, slots: 2 }), []);
});

test('CPU lists are read as the kernel writes them', () => {
  assert.deepEqual(parseCpuList('0-3,6\n'), [0, 1, 2, 3, 6]);
  assert.deepEqual(parseCpuList('5'), [5]);
  assert.deepEqual(parseCpuList(''), []);
});
