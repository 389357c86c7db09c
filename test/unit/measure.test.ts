import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { sample } from '../../src/runner/measure';
import type { MetricSpec } from '../../src/protocol/metric';

const dirs = { baseline: os.tmpdir(), candidate: os.tmpdir() };
const cpu = (command: string): MetricSpec => ({ command, read: 'cpuTime', timeoutMs: 30_000, outputBytes: 1 << 16 });
const spin = (ms: number) => `node -e "const t=process.cpuUsage();while((process.cpuUsage(t).user+process.cpuUsage(t).system)<${ms}e3){}"`;

test('cpuTime: CPU time of the whole process tree, finer than a clock tick, the output untouched', async () => {
  const run = async (command: string) => (await sample({ metric: cpu(command), side: 'baseline', runs: 1 }, dirs, new AbortController().signal, () => {})).values[0]!;
  const one = await run(spin(60));
  // Two spinning grandchildren behind a shell: both count.
  const two = await run(`${spin(60)} & ${spin(60)}; wait`);
  assert.ok(one >= 60 && one < 400, `one ${one}`);
  assert.ok(two >= 120 && two > one + 40, `one ${one}, two ${two}`);
  // Not in 10 ms ticks, as /proc's cutime would be.
  const values = await Promise.all([run(spin(20)), run(spin(20)), run(spin(20))]);
  assert.ok(values.some((v) => v % 10 !== 0), `values ${values}`);
});

test('cpuTime: a failing command is a failure, its stderr reported, not a number', async () => {
  await assert.rejects(
    sample({ metric: cpu('echo oops >&2; exit 3'), side: 'baseline', runs: 1 }, dirs, new AbortController().signal, () => {}),
    /exited with code 3\noops/,
  );
});
