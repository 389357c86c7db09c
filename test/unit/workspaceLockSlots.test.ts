import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { errorKind, userMessage } from '../../src/protocol/errors';
import { RunnerClient } from '../../src/runner/client';
import { processStart } from '../../src/process/tree';
import { SandboxPool, workspaceStorage } from '../../src/runner/sandbox';
import { LOCK_FILE, WorkspaceLock } from '../../src/runner/workspaceLock';

/**
 * A pool's other slots never take the run lock and run only under slot 0's: a runner started by the
 * same engine. Here the test process stands for such a runner, its parent for the engine, and a
 * sleeping process for slot 0's runner.
 */
async function withWorkspace(fn: (ws: string, lock: string, storage: string) => Promise<void>): Promise<void> {
  const ws = realpathSync(mkdtempSync(join(tmpdir(), 'rsi-slots-')));
  const storage = mkdtempSync(join(tmpdir(), 'rsi-slots-store-'));
  mkdirSync(join(ws, '.rsi'));
  writeFileSync(join(ws, 'work.js'), 'console.log(1)\n');
  try {
    await fn(ws, join(ws, LOCK_FILE), storage);
  } finally {
    rmSync(ws, { recursive: true, force: true });
    rmSync(storage, { recursive: true, force: true });
  }
}

function lockOf(pid: number, engine: number): string {
  return JSON.stringify({ pid, start: processStart(pid), host: hostname(), engine, engineStart: processStart(engine) });
}

function sleeper() {
  return spawn('sleep', ['1000'], { stdio: 'ignore' });
}

test("another slot runs under a sibling runner's lock, in its own sandbox pair, and leaves the lock alone", async () => {
  const slot0 = sleeper();
  try {
    await withWorkspace(async (ws, lock, storage) => {
      writeFileSync(lock, lockOf(slot0.pid!, process.ppid));
      const pool = new SandboxPool(storage, ws, 1);
      const { a, b } = await pool.acquire({});
      const home = await workspaceStorage(storage, ws);
      assert.deepEqual([a.dir, b.dir], [join(home, 'a1', 'tree'), join(home, 'b1', 'tree')]);
      assert.ok(existsSync(join(b.dir, 'work.js')));
      await pool.release();
      assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, slot0.pid, 'the sibling still holds the lock');
    });
  } finally {
    slot0.kill('SIGKILL');
  }
});

test('another slot refuses to run without the lock, under a lock gone stale, or under another run', async () => {
  const other = sleeper();
  const dead = spawn('true');
  await new Promise((done) => dead.once('exit', done));
  try {
    await withWorkspace(async (ws, lock, storage) => {
      await assert.rejects(WorkspaceLock.checkHeldBySibling(ws), (error) => errorKind(error) === 'program' && /is not held: a pool's other slots run only under slot 0's/.test(String(error)));
      await assert.rejects(new SandboxPool(storage, ws, 1).acquire({}), /is not held/);
      assert.equal(existsSync(lock), false, 'the slot took no lock');

      writeFileSync(lock, lockOf(dead.pid!, process.ppid));
      await assert.rejects(WorkspaceLock.checkHeldBySibling(ws), /is not held/);

      // Another run: its runner lives, and another engine started it.
      writeFileSync(lock, lockOf(other.pid!, process.pid));
      await assert.rejects(WorkspaceLock.checkHeldBySibling(ws), (error) => errorKind(error) === 'user' && /^this workspace is in use by another RSI run \(runner pid \d+, started by pid \d+\): wait for it to end/.test(userMessage(error)));
      assert.deepEqual(readdirSync(join(ws, '.rsi')), ['run.lock'], "the other run's lock is untouched");
    });
  } finally {
    other.kill('SIGKILL');
  }
});

test('slot 0 still takes the lock itself, in the pair a single runner always used', async () => {
  await withWorkspace(async (ws, lock, storage) => {
    const pool = new SandboxPool(storage, ws);
    const { a } = await pool.acquire({});
    assert.equal(a.dir, join(await workspaceStorage(storage, ws), 'a', 'tree'));
    assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid);
    await pool.release();
    assert.equal(existsSync(lock), false);
  });
});

test('real runners of one engine: slot 1 runs only while slot 0 holds the lock, and never takes it', async () => {
  const runnerPath = resolve(__dirname, '../../dist/runner.js');
  const [slot0, slot1] = [new RunnerClient({ runnerPath }), new RunnerClient({ runnerPath })];
  try {
    await withWorkspace(async (ws, lock, storage) => {
      const spec = { workspace: ws, storageRoot: storage };
      await assert.rejects(slot1.request('prepare', { sandbox: { ...spec, slot: 1 }, base: {} }), /is not held/);
      await slot0.request('prepare', { sandbox: spec, base: {} });
      await slot1.request('prepare', { sandbox: { ...spec, slot: 1 }, base: {} });
      assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, slot0.pid, "slot 0's runner holds the lock");
      await slot0.request('release', {});
      assert.equal(existsSync(lock), false);
      // The same base: the sandboxes are not prepared again, and still the lock is checked.
      await assert.rejects(slot1.request('prepare', { sandbox: { ...spec, slot: 1 }, base: {} }), /is not held/);
      await slot1.request('release', {});
    });
  } finally {
    await Promise.all([slot0.dispose(), slot1.dispose()]);
  }
});
