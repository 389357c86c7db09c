import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { processStart } from '../../src/process/tree';
import { LOCK_FILE, WorkspaceLock } from '../../src/runner/workspaceLock';
import { isRunning, waitFor } from '../processes';

async function withWorkspace(fn: (ws: string, lock: string) => Promise<void>): Promise<void> {
  const ws = realpathSync(mkdtempSync(join(tmpdir(), 'rsi-lock-')));
  mkdirSync(join(ws, '.rsi'));
  try {
    await fn(ws, join(ws, LOCK_FILE));
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

function owner(pid: number, more: Record<string, unknown> = {}): string {
  return JSON.stringify({ pid, start: processStart(pid), host: hostname(), engine: process.pid, engineStart: processStart(process.pid), ...more });
}

function ours(lock: string): boolean {
  return JSON.parse(readFileSync(lock, 'utf8')).pid === process.pid;
}

/** A process that stays (a sleep), for a live owner. */
function sleeper() {
  return spawn('sleep', ['1000'], { stdio: 'ignore' });
}

for (const [damage, text] of [['empty', ''], ['truncated', '{"pid":12'], ['not a lock', '[1,2]']] as const) {
  test(`a lock file that is ${damage} is stale: it is taken over`, async () => {
    await withWorkspace(async (ws, lock) => {
      writeFileSync(lock, text);
      const taken = await WorkspaceLock.take(ws);
      assert.ok(ours(lock));
      await taken.release();
      assert.deepEqual(readdirSync(join(ws, '.rsi')), [], 'nothing left beside it');
    });
  });
}

test('a lock whose owner is a zombie is stale (Linux)', { skip: process.platform !== 'linux' }, async () => {
  // `sleep 0` exits, and its parent, now `sleep 1000`, never reaps it.
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 1000'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const zombie = Number(await new Promise<string>((done) => parent.stdout.once('data', (b: Buffer) => done(b.toString()))));
    assert.ok(await waitFor(() => !isRunning(zombie), 5000), 'the child became a zombie');
    await withWorkspace(async (ws, lock) => {
      writeFileSync(lock, owner(zombie));
      const taken = await WorkspaceLock.take(ws);
      assert.ok(ours(lock));
      await taken.release();
    });
  } finally {
    parent.kill('SIGKILL');
  }
});

test('a live owner is never taken over; one whose engine is gone is waited for while it shuts down', async () => {
  const runner = sleeper();
  const engine = spawn('true');
  await new Promise((done) => engine.once('exit', done));
  try {
    await withWorkspace(async (ws, lock) => {
      writeFileSync(lock, owner(runner.pid!));
      await assert.rejects(WorkspaceLock.take(ws), /in use by another RSI run \(runner pid \d+, started by pid \d+\)/);

      writeFileSync(lock, owner(runner.pid!, { engine: engine.pid, engineStart: '' }));
      const taking = WorkspaceLock.take(ws);
      // Once the take is under way (its temporary file is there), the runner finishes shutting down.
      assert.ok(await waitFor(() => readdirSync(join(ws, '.rsi')).some((name) => name.endsWith('.tmp')), 5000));
      runner.kill('SIGKILL');
      const taken = await taking;
      assert.ok(ours(lock));
      await taken.release();
    });
  } finally {
    runner.kill('SIGKILL');
  }
});

test('a lock from another host is never taken over, and the message says how to clear it', async () => {
  await withWorkspace(async (ws, lock) => {
    writeFileSync(lock, owner(1, { host: 'elsewhere' }));
    await assert.rejects(WorkspaceLock.take(ws), new RegExp(`this workspace is in use by an RSI run on elsewhere \\(runner pid 1\\); if none runs there any more, delete ${lock}$`));
  });
});

test('of several processes taking a damaged lock at once, exactly one holds it', async () => {
  await withWorkspace(async (ws, lock) => {
    writeFileSync(lock, '{');
    const module = JSON.stringify(resolve(__dirname, '../../src/runner/workspaceLock.ts'));
    // Each takes the lock and says so, then holds it until its stdin closes.
    const script = `import(${module}).then((m) => (m.default ?? m).WorkspaceLock.take(${JSON.stringify(ws)})).then(
      () => { console.log('held'); process.stdin.on('data', () => {}).on('end', () => process.exit(0)); },
      (error) => { console.log(error.message); process.exit(0); })`;
    const takers = Array.from({ length: 4 }, () => spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const exited = takers.map((child) => new Promise((done) => child.once('exit', done)));
    try {
      const said = await Promise.all(takers.map((child) => new Promise<string>((done) => child.stdout.once('data', (b: Buffer) => done(b.toString().trim())))));
      assert.equal(said.filter((line) => line === 'held').length, 1, said.join('\n'));
      for (const line of said.filter((l) => l !== 'held')) assert.match(line, /in use by another RSI run/);
    } finally {
      for (const child of takers) child.stdin.end();
      await Promise.all(exited);
    }
  });
});
