/**
 * The real runner (dist/runner.js: build first) with real processes: whoever dies first, the
 * runner, its engine, or both by Ctrl-C, nothing a command started keeps running, and the
 * workspace's lock is not left behind. No timings: conditions are polled with a bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunnerClient } from '../../src/runner/client';
import type { RunnerMethods, SandboxSpec } from '../../src/protocol/runner';
import { isRunning, waitFor } from '../processes';

const runnerPath = resolve(__dirname, '../../dist/runner.js');
const BOUND_MS = 10_000;

interface Scene {
  ws: string;
  /** Sandbox storage roots, two of them (as the CLI's and the editor's differ). */
  roots: [string, string];
  /** Where the metric command writes its pid. */
  pidFile: string;
  lock: string;
  /** Where an engine() sends its runner's stderr. */
  stderrFile: string;
}

async function withScene(fn: (scene: Scene) => Promise<void>): Promise<void> {
  const top = realpathSync(mkdtempSync(join(tmpdir(), 'rsi-procs-')));
  const ws = join(top, 'ws');
  mkdirSync(join(ws, '.rsi'), { recursive: true });
  writeFileSync(join(ws, 'main.sh'), 'echo 1\n');
  const pidFile = join(top, 'metric.pid');
  try {
    await fn({ ws, roots: [join(top, 'root-a'), join(top, 'root-b')], pidFile, lock: join(ws, '.rsi', 'run.lock'), stderrFile: join(top, 'runner.log') });
  } finally {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
    if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL'); // a failed test leaves nothing running
    rmSync(top, { recursive: true, force: true });
  }
}

const sandbox = (scene: Scene, root = 0): SandboxSpec => ({ workspace: scene.ws, storageRoot: scene.roots[root] });

/** One A/A pair of a metric that runs until killed, after writing its pid. */
function endlessMetric(scene: Scene): RunnerMethods['measure']['params'] {
  const command = `echo $$ > ${scene.pidFile}; while :; do sleep 0.05; done`;
  const sampling = { minRuns: 4, maxRuns: 4, alpha: 0.05, direction: 'minimize' as const, deterministic: false, noiseFloor: 0, minEffect: 0 };
  return { sandbox: sandbox(scene), base: {}, candidate: {}, metric: { command, read: 'wallTime', timeoutMs: 600_000, outputBytes: 1000 }, pairs: 1, sampling };
}

async function metricPid(pidFile: string): Promise<number> {
  assert.ok(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), BOUND_MS), 'the metric never started');
  return Number(readFileSync(pidFile, 'utf8'));
}

/**
 * A CLI-like engine in its own process group: it starts the runner (stderr to scene.stderrFile), prepares
 * `ws` and sends `method` with `params`, then prints the runner's pid; with `dieOn`, it SIGKILLs
 * itself when the runner reports that event kind.
 */
function engine(scene: Scene, method: string, params: unknown, dieOn?: string) {
  const script = `
    const { fork } = require('node:child_process');
    const fd = require('node:fs').openSync(${JSON.stringify(scene.stderrFile)}, 'w');
    const runner = fork(${JSON.stringify(runnerPath)}, [], { stdio: ['ignore', 'ignore', fd, 'ipc'] });
    runner.on('message', (m) => {
      if (m.type === 'ready') runner.send({ type: 'request', id: 1, method: 'prepare', params: { sandbox: ${JSON.stringify(sandbox(scene))}, base: {} } });
      else if (m.type === 'response' && m.id === 1) {
        runner.send({ type: 'request', id: 2, method: ${JSON.stringify(method)}, params: ${JSON.stringify(params)} });
        console.log(runner.pid);
      } else if (m.type === 'event' && m.event.kind === ${JSON.stringify(dieOn ?? null)}) process.kill(process.pid, 'SIGKILL');
    });`;
  const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  const runnerPid = new Promise<number>((done) => child.stdout.once('data', (b: Buffer) => done(Number(b.toString()))));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return { child, runnerPid, exited };
}

test('a SIGKILLed runner leaves no command running: the engine kills what carries its mark', async () => {
  await withScene(async (scene) => {
    const client = new RunnerClient({ runnerPath });
    try {
      const sampling = client.request('measure', endlessMetric(scene));
      const metric = await metricPid(scene.pidFile);
      process.kill(client.pid!, 'SIGKILL');
      await assert.rejects(sampling, /the runner exited unexpectedly \(SIGKILL\)/);
      assert.ok(await waitFor(() => !isRunning(metric), BOUND_MS), `metric ${metric} outlived its runner`);
    } finally {
      await client.dispose();
    }
  });
});

test('Ctrl-C to the process group of the engine and its runner leaves no command running, and no lock', async () => {
  await withScene(async (scene) => {
    const { child, runnerPid, exited } = engine(scene, 'measure', endlessMetric(scene));
    const runner = await runnerPid;
    const metric = await metricPid(scene.pidFile);
    process.kill(-child.pid!, 'SIGINT'); // what a terminal does: the engine dies of it (no handler here)
    await exited;
    assert.ok(await waitFor(() => !isRunning(metric), BOUND_MS), `metric ${metric} outlived Ctrl-C`);
    assert.ok(await waitFor(() => !isRunning(runner), BOUND_MS), `runner ${runner} outlived its engine`);
    assert.equal(existsSync(scene.lock), false, 'the runner released the lock');
  });
});

test('an engine killed mid-request: the runner shuts down cleanly (no ERR_IPC_CHANNEL_CLOSED), killing the command and dropping the lock', async () => {
  await withScene(async (scene) => {
    const gate = { sandbox: sandbox(scene), base: {}, candidate: {}, side: 'baseline', commands: [`echo $$ > ${scene.pidFile}; exec sleep 1000`], limits: { timeoutMs: 600_000, outputBytes: 1000 } };
    const { runnerPid, exited } = engine(scene, 'gate', gate, 'gate');
    const runner = await runnerPid;
    await exited;
    assert.ok(await waitFor(() => !isRunning(runner), BOUND_MS), `runner ${runner} outlived its engine`);
    assert.equal(readFileSync(scene.stderrFile, 'utf8'), '', 'the runner wrote nothing to stderr (a crash would)');
    assert.equal(existsSync(scene.lock), false, 'the runner released the lock');
    if (existsSync(scene.pidFile)) {
      const command = await metricPid(scene.pidFile);
      assert.ok(await waitFor(() => !isRunning(command), BOUND_MS), `gate command ${command} outlived its runner`);
    }
  });
});

test('two runs on one workspace with different sandbox roots: the second is refused with one sentence', async () => {
  await withScene(async (scene) => {
    const first = new RunnerClient({ runnerPath });
    const second = new RunnerClient({ runnerPath });
    try {
      await first.request('prepare', { sandbox: sandbox(scene), base: {} });
      await assert.rejects(
        second.request('prepare', { sandbox: sandbox(scene, 1), base: {} }),
        new RegExp(`this workspace is in use by another RSI run \\(runner pid ${first.pid}, started by pid ${process.pid}\\): wait for it to end, or stop it with Ctrl-C in its terminal, "RSI: Stop" in the editor, or kill ${first.pid}$`),
      );
      await first.request('release', {});
      await second.request('prepare', { sandbox: sandbox(scene, 1), base: {} });
    } finally {
      await Promise.all([first.dispose(), second.dispose()]);
    }
    assert.equal(existsSync(scene.lock), false, 'dispose released the lock');
  });
});
