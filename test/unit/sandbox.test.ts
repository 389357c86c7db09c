import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync,
  realpathSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Sandbox, SandboxPool, checkRelPath } from '../../src/runner/sandbox';

function tempDir(prefix: string): string {
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

function write(root: string, rel: string, text: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

function read(root: string, rel: string): string {
  return readFileSync(join(root, rel), 'utf8');
}

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'ignore' });
}

/** Date every file an hour back, so that a sync sees them as settled (not modified within the clock's granularity). */
function age(root: string): void {
  const past = new Date(Date.now() - 3600_000);
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) utimesSync(join(entry.parentPath, entry.name), past, past);
  }
}

/** Every file under `root` (not following symlinks) with its content, for byte-for-byte comparisons. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const abs = join(entry.parentPath, entry.name);
    if (entry.isFile()) out[abs.slice(root.length + 1)] = readFileSync(abs, 'latin1');
  }
  return out;
}

/**
 * A git workspace: tracked files (one edited, uncommitted), an untracked file, ignored files, a
 * tracked file deleted in the working tree, node_modules, and .rsi working files.
 */
function makeRepo(): string {
  const ws = tempDir('rsi-ws-');
  write(ws, '.gitignore', 'dist/\n*.log\nnode_modules/\n');
  write(ws, 'a.txt', 'committed\n');
  write(ws, 'src/b.ts', 'export const b = 1;\n');
  write(ws, 'deleted.txt', 'soon gone\n');
  write(ws, 'run.sh', '#!/bin/sh\necho hi\n');
  chmodSync(join(ws, 'run.sh'), 0o755);
  write(ws, '.rsi/config.json', '{"metric":{}}\n');
  git(ws, 'init', '-q');
  git(ws, 'add', '-A');
  git(ws, 'commit', '-q', '-m', 'init');
  write(ws, 'a.txt', 'edited, not committed\n');
  rmSync(join(ws, 'deleted.txt'));
  write(ws, 'new.txt', 'untracked\n');
  write(ws, 'dist/out.js', 'ignored\n');
  write(ws, 'debug.log', 'ignored\n');
  write(ws, '.rsi/lessons.jsonl', '{"v":1}\n');
  write(ws, 'node_modules/pkg/index.js', 'module.exports = 1;\n');
  age(ws);
  return ws;
}

async function withPool(fn: (pool: SandboxPool, ws: string, storage: string) => Promise<void>, ws = makeRepo()): Promise<void> {
  const storage = tempDir('rsi-store-');
  const pool = new SandboxPool(storage, ws);
  try {
    await fn(pool, ws, storage);
  } finally {
    await pool.release();
    rmSync(ws, { recursive: true, force: true });
    rmSync(storage, { recursive: true, force: true });
  }
}

test('build copies tracked and untracked-not-ignored files with uncommitted edits, not ignored ones', async () => {
  await withPool(async (pool, ws, storage) => {
    const { a, b, copied } = await pool.acquire({});
    for (const box of [a, b]) {
      assert.ok(box.dir.startsWith(storage + '/'), 'outside the workspace, under the storage root');
      assert.equal(read(box.dir, 'a.txt'), 'edited, not committed\n');
      assert.equal(read(box.dir, 'src/b.ts'), 'export const b = 1;\n');
      assert.equal(read(box.dir, 'new.txt'), 'untracked\n');
      assert.equal(read(box.dir, '.rsi/config.json'), '{"metric":{}}\n');
      for (const absent of ['dist/out.js', 'debug.log', '.rsi/lessons.jsonl', 'deleted.txt', '.git']) {
        assert.equal(existsSync(join(box.dir, absent)), false, `${absent} should not be copied`);
      }
      assert.equal(statSync(join(box.dir, 'run.sh')).mode & 0o777, 0o755);
    }
    // .gitignore a.txt src/b.ts run.sh .rsi/config.json new.txt, in each of the two sandboxes
    assert.equal(copied, 12);
    assert.notEqual(a.dir, b.dir);
    assert.ok(!a.dir.startsWith(ws));
  });
});

test('node_modules is a symlink to the workspace one', async () => {
  await withPool(async (pool, ws) => {
    const { a } = await pool.acquire({});
    const link = join(a.dir, 'node_modules');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), join(ws, 'node_modules'));
    assert.equal(read(a.dir, 'node_modules/pkg/index.js'), 'module.exports = 1;\n');
  });
});

test('user files are never hard-linked: inodes differ, and writing in the sandbox leaves the workspace byte-identical', async () => {
  await withPool(async (pool, ws) => {
    const before = snapshot(ws);
    const { a, b } = await pool.acquire({ 'src/b.ts': 'export const b = 2;\n' });
    for (const rel of ['a.txt', 'src/b.ts', 'new.txt', 'run.sh', '.rsi/config.json']) {
      const user = statSync(join(ws, rel));
      const copy = statSync(join(a.dir, rel));
      assert.notEqual(copy.ino, user.ino, rel);
      assert.equal(user.nlink, 1, rel);
    }
    for (const rel of ['a.txt', 'new.txt', 'run.sh']) writeFileSync(join(a.dir, rel), 'clobbered by a command\n', { flag: 'r+' });
    await b.applyCandidate({ 'a.txt': 'candidate\n', 'src/b.ts': null, 'made.ts': 'x' });
    const { '.rsi/run.lock': lock, ...after } = snapshot(ws);
    assert.ok(lock, 'the run holds the workspace\'s lock');
    assert.deepEqual(after, before);
  });
});

test('sync picks up an edit, a new file and a deletion, and repairs a file a command changed', async () => {
  await withPool(async (pool, ws) => {
    const { a } = await pool.acquire({});
    const again = await pool.acquire({});
    assert.equal(again.copied, 0, 'nothing changed: nothing copied');
    assert.equal(again.deleted, 0);

    write(ws, 'a.txt', 'edited again, longer than before\n');
    write(ws, 'lib/added.ts', 'export {};\n');
    rmSync(join(ws, 'src/b.ts'));
    await new Promise((resolve) => setTimeout(resolve, 20)); // past the clock granularity of the last sync
    writeFileSync(join(a.dir, 'new.txt'), 'UNTRACKED\n'); // same size: only the mtime tells
    const synced = await pool.acquire({});
    for (const box of [synced.a, synced.b]) {
      assert.equal(read(box.dir, 'a.txt'), 'edited again, longer than before\n');
      assert.equal(read(box.dir, 'lib/added.ts'), 'export {};\n');
      assert.equal(existsSync(join(box.dir, 'src/b.ts')), false);
      assert.equal(existsSync(join(box.dir, 'src')), false, 'the emptied directory goes too');
    }
    assert.equal(read(a.dir, 'new.txt'), 'untracked\n');
    assert.equal(synced.copied, 2 + 2 + 1); // a.txt and lib/added.ts in both, new.txt in a
    assert.equal(synced.deleted, 2);
  });
});

test('applyCandidate restores the previous candidate\'s touched files and removes the ones it created', async () => {
  await withPool(async (pool) => {
    const { b } = await pool.acquire({});
    const base = snapshot(b.dir);
    await b.applyCandidate({ 'a.txt': 'candidate 1\n', 'created/deep/one.ts': 'new\n', 'run.sh': null });
    assert.equal(read(b.dir, 'a.txt'), 'candidate 1\n');
    assert.equal(read(b.dir, 'created/deep/one.ts'), 'new\n');
    assert.equal(existsSync(join(b.dir, 'run.sh')), false);

    await b.applyCandidate({ 'src/b.ts': 'candidate 2\n' });
    assert.equal(read(b.dir, 'a.txt'), 'edited, not committed\n');
    assert.equal(existsSync(join(b.dir, 'created')), false);
    assert.equal(read(b.dir, 'run.sh'), '#!/bin/sh\necho hi\n');
    assert.equal(statSync(join(b.dir, 'run.sh')).mode & 0o777, 0o755, 'a restored file keeps its mode');
    assert.equal(read(b.dir, 'src/b.ts'), 'candidate 2\n');

    await b.reset();
    assert.deepEqual(snapshot(b.dir), base);
  });
});

test('the overlay is the base state, and leaving it restores the workspace content', async () => {
  await withPool(async (pool) => {
    const { a, b } = await pool.acquire({ 'a.txt': 'kept winner\n', 'src/extra.ts': 'from a winner\n', 'new.txt': null });
    for (const box of [a, b]) {
      assert.equal(read(box.dir, 'a.txt'), 'kept winner\n');
      assert.equal(read(box.dir, 'src/extra.ts'), 'from a winner\n');
      assert.equal(existsSync(join(box.dir, 'new.txt')), false);
    }
    await b.applyCandidate({ 'a.txt': 'candidate\n', 'new.txt': 'candidate\n' });
    await b.reset();
    assert.equal(read(b.dir, 'a.txt'), 'kept winner\n');
    assert.equal(existsSync(join(b.dir, 'new.txt')), false);

    const next = await pool.acquire({});
    for (const box of [next.a, next.b]) {
      assert.equal(read(box.dir, 'a.txt'), 'edited, not committed\n');
      assert.equal(read(box.dir, 'new.txt'), 'untracked\n');
      assert.equal(existsSync(join(box.dir, 'src/extra.ts')), false);
    }
  });
});

test('paths that escape the sandbox are refused before anything is written', async () => {
  for (const bad of ['../evil.txt', 'src/../../evil.txt', '/etc/evil', '', 'a\\..\\evil', 'C:/evil']) {
    assert.throws(() => checkRelPath(bad), /refusing path/, bad);
  }
  assert.equal(checkRelPath('./src//b.ts'), 'src/b.ts');
  await withPool(async (pool, ws, storage) => {
    const { b } = await pool.acquire({});
    await assert.rejects(b.applyCandidate({ 'ok.txt': 'x', '../evil.txt': 'y' }), /refusing path "..\/evil.txt"/);
    assert.equal(existsSync(join(b.dir, 'ok.txt')), false, 'nothing written');
    assert.equal(existsSync(join(dirname(b.dir), 'evil.txt')), false);
    // Through the node_modules symlink, a write would land in the user's node_modules.
    await assert.rejects(b.applyCandidate({ 'node_modules/pkg/index.js': 'evil' }), /leads outside the sandbox/);
    assert.equal(read(ws, 'node_modules/pkg/index.js'), 'module.exports = 1;\n');
    // A symlink a command left in the tree, pointing at the user's file.
    symlinkSync(join(ws, 'a.txt'), join(b.dir, 'sneaky.txt'));
    await assert.rejects(b.applyCandidate({ 'sneaky.txt': 'evil' }), /leads outside the sandbox/);
    await assert.rejects(pool.acquire({ '../x': 'y' }), /refusing path/);
    assert.equal(read(ws, 'a.txt'), 'edited, not committed\n');
    assert.deepEqual(readdirSync(storage).length, 1);
  });
});

test('the lock: in the workspace, a live runner refuses, a dead one is taken over, the same process cannot share', async () => {
  await withPool(async (pool, ws, storage) => {
    await pool.acquire({});
    await assert.rejects(new SandboxPool(storage, ws).acquire({}), /already in use by another run in this process/);
    await pool.release();
    const lock = join(ws, '.rsi', 'run.lock');
    assert.equal(existsSync(lock), false, 'release drops the lock');

    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(lock, JSON.stringify({ pid: other.pid, start: '', host: hostname(), engine: process.pid, engineStart: '' }));
      await assert.rejects(pool.acquire({}), new RegExp(`this workspace is in use by another RSI run \\(runner pid ${other.pid}, started by pid ${process.pid}\\): wait for it to end, or stop it with Ctrl-C in its terminal, "RSI: Stop" in the editor, or kill ${other.pid}$`));
    } finally {
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
    }
    const { a } = await pool.acquire({}); // the owner died: stale
    assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid);
    assert.equal(read(a.dir, 'a.txt'), 'edited, not committed\n');
  });
});

test('a sparse file stays sparse in the sandboxes, with the same bytes', async () => {
  const ws = makeRepo();
  const file = join(ws, 'disk.img');
  const size = 256 * 1024 * 1024;
  writeFileSync(file, '');
  truncateSync(file, size);
  const fd = openSync(file, 'r+');
  writeSync(fd, 'head', 0);
  writeSync(fd, 'middle', size / 2 + 1000);
  writeSync(fd, 'tail', size - 4);
  closeSync(fd);
  chmodSync(file, 0o640);
  const source = statSync(file);
  assert.ok(source.blocks * 512 < 1024 * 1024, 'this file system keeps the test file sparse');
  await withPool(async (pool) => {
    const { a, b } = await pool.acquire({});
    for (const dir of [a.dir, b.dir]) {
      const copy = statSync(join(dir, 'disk.img'));
      assert.equal(copy.size, size);
      assert.equal(copy.mode & 0o777, 0o640);
      assert.ok(copy.blocks * 512 <= source.blocks * 512 + 64 * 1024, `${copy.blocks * 512} bytes on disk for ${source.blocks * 512} in the workspace`);
      const copyFd = openSync(join(dir, 'disk.img'), 'r');
      const at = (position: number, length: number) => {
        const buffer = Buffer.alloc(length);
        readSync(copyFd, buffer, 0, length, position);
        return buffer.toString('latin1');
      };
      assert.equal(at(0, 5), 'head\0');
      assert.equal(at(size / 2 + 999, 8), '\0middle\0');
      assert.equal(at(size - 5, 5), '\0tail');
      closeSync(copyFd);
    }
  }, ws);
});

test('sandboxes persist across runs, and a candidate left by a crashed run is repaired', async () => {
  await withPool(async (pool, ws, storage) => {
    const { b } = await pool.acquire({});
    await pool.release();
    const home = dirname(b.dir);
    const crashed = new Sandbox(home);
    await crashed.prepare(ws, {});
    await crashed.applyCandidate({ 'a.txt': 'crash\n', 'orphan.ts': 'x' });
    // That run dies here: no reset (its memory of the base content is lost with it).
    const revived = new Sandbox(home);
    const result = await revived.prepare(ws, {});
    assert.equal(read(revived.dir, 'a.txt'), 'edited, not committed\n');
    assert.equal(existsSync(join(revived.dir, 'orphan.ts')), false);
    assert.equal(result.copied, 1);
    assert.equal(result.deleted, 1);

    const later = new SandboxPool(storage, ws); // a new CLI invocation
    try {
      const again = await later.acquire({});
      assert.equal(again.copied, 0, 'reused: nothing to copy');
      assert.equal(again.b.dir, b.dir, 'same folder: one per workspace');
    } finally {
      await later.release();
    }
  });
});

test('without git: a walk that skips .git and node_modules', async () => {
  const ws = tempDir('rsi-plain-');
  write(ws, 'main.js', 'console.log(1);\n');
  write(ws, 'deep/x/y.txt', 'y\n');
  write(ws, 'node_modules/dep/index.js', 'dep\n');
  write(ws, 'packages/p/node_modules/dep/index.js', 'dep\n');
  write(ws, '.git/HEAD', 'not really a repo\n');
  write(ws, '.rsi/config.json', '{}\n');
  write(ws, '.rsi/lessons.jsonl', '\n');
  await withPool(async (pool) => {
    const { a, copied } = await pool.acquire({});
    assert.deepEqual(Object.keys(snapshot(a.dir)).sort(), ['.rsi/config.json', 'deep/x/y.txt', 'main.js']);
    assert.ok(lstatSync(join(a.dir, 'node_modules')).isSymbolicLink());
    assert.equal(copied, 6);
  }, ws);
});

test('storage inside the workspace is refused', async () => {
  const ws = makeRepo();
  try {
    await assert.rejects(new SandboxPool(join(ws, '.sandboxes'), ws).acquire({}), /must be outside the workspace/);
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});

test('timings with a few thousand files', async (t) => {
  const ws = tempDir('rsi-big-');
  const text = 'x'.repeat(2000) + '\n';
  for (let i = 0; i < 3000; i++) write(ws, `src/d${i % 100}/f${i}.ts`, text);
  for (let i = 0; i < 20; i++) write(ws, `node_modules/p${i}/index.js`, text); // linked, never copied
  write(ws, '.gitignore', 'node_modules/\n');
  git(ws, 'init', '-q');
  git(ws, 'add', '-A');
  git(ws, 'commit', '-q', '-m', 'init');
  age(ws);
  await withPool(async (pool) => {
    let started = performance.now();
    const built = await pool.acquire({});
    const buildMs = performance.now() - started;
    assert.equal(built.copied, 2 * 3001);
    started = performance.now();
    const synced = await pool.acquire({});
    const syncMs = performance.now() - started;
    assert.equal(synced.copied, 0);
    const files = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`src/d${i}/f${i}.ts`, `changed ${i}\n`]));
    started = performance.now();
    await built.b.applyCandidate(files);
    const applyMs = performance.now() - started;
    started = performance.now();
    await built.b.reset();
    const resetMs = performance.now() - started;
    assert.equal(read(built.b.dir, 'src/d0/f0.ts'), text);
    t.diagnostic(`3001 files x 2 sandboxes: build ${buildMs.toFixed(0)} ms, sync ${syncMs.toFixed(0)} ms, apply 5 files ${applyMs.toFixed(1)} ms, reset ${resetMs.toFixed(1)} ms`);
  }, ws);
});
