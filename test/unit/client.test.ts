import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { CancelledError, RunnerClient } from '../../src/runner/client';
import type { ProgressEvent } from '../../src/protocol/runner';
import { isRunning, waitFor } from '../processes';

const fakeRunner = path.resolve(__dirname, '../fixtures/fake-runner.js');

test('requests are answered, events delivered, and a cancel reaches the runner', async () => {
  const client = new RunnerClient({ runnerPath: fakeRunner });
  try {
    const pong = await client.request('ping', {});
    assert.equal(pong.pid, client.pid);
    const events: ProgressEvent[] = [];
    const controller = new AbortController();
    const pending = client.request('history', { workspace: 'x', storageRoot: 'y', commits: 1 }, {
      signal: controller.signal,
      onEvent: (event) => {
        events.push(event);
        controller.abort();
      },
    });
    await assert.rejects(pending, CancelledError);
    assert.deepEqual(events, [{ kind: 'log', message: 'started' }]);
  } finally {
    await client.dispose();
  }
});

test('a crash fails the pending request, the next request restarts the runner, and the budget ends it', async () => {
  const logs: string[] = [];
  const client = new RunnerClient({ runnerPath: fakeRunner, maxCrashes: 2, log: (l) => logs.push(l) });
  const crash = () => client.request('release', {});
  try {
    const first = (await client.request('ping', {})).pid;
    await assert.rejects(crash(), /exited unexpectedly \(code 7\)/);
    const second = (await client.request('ping', {})).pid;
    assert.notEqual(second, first);
    await assert.rejects(crash(), /exited unexpectedly/);
    await assert.rejects(client.request('ping', {}), /crashed 2 times in 3 minutes; it is not restarted again/);
    assert.ok(logs.some((l) => l.includes('restarts on the next request')));
  } finally {
    await client.dispose();
  }
});

test('the runner is restarted once its RSS doubled since its first cycle, not since its start-up', async () => {
  // Ready at 40 MiB; the first check, after a cycle, sees it warm at 90; 170 is less than twice that.
  process.env.FAKE_RUNNER_RSS_MIB = '40,50,90,170,190';
  const client = new RunnerClient({ runnerPath: fakeRunner });
  try {
    assert.equal(await client.recycleIfGrown(), false, 'no runner yet');
    const first = (await client.request('ping', {})).pid;
    assert.equal(await client.recycleIfGrown(), false, '90 MiB is its warm level');
    assert.equal(await client.recycleIfGrown(), false, '170 MiB');
    assert.equal(await client.recycleIfGrown(), true, '190 MiB');
    assert.notEqual((await client.request('ping', {})).pid, first);
  } finally {
    delete process.env.FAKE_RUNNER_RSS_MIB;
    await client.dispose();
  }
});

test('the real runner exits when its parent dies, even by SIGKILL', async () => {
  const runner = path.resolve(__dirname, '../../dist/runner.js');
  // A parent that starts the runner, prints its pid, then is killed without any cleanup.
  const script = `
    const { fork } = require('node:child_process');
    const child = fork(${JSON.stringify(runner)}, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    child.on('message', (m) => { if (m.type === 'ready') { console.log(child.pid); process.kill(process.pid, 'SIGKILL'); } });`;
  const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  parent.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => parent.once('close', resolve));
  const pid = Number(out.trim());
  assert.ok(pid > 0, 'the runner never said it was ready');
  const gone = await waitFor(() => !isRunning(pid), 5000);
  assert.ok(gone, `runner ${pid} outlived its parent`);
});
