import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { SnapshotMissingError, SnapshotStore, SnapshotUploader } from '../../src/evaluation/snapshot';
import { startRedis, type RedisServer } from '../redisServer';

let server: RedisServer;
let redis: Redis;

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});

after(async () => {
  redis.disconnect();
  await server.stop();
});

async function workspace(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-snapshot-'));
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), text);
  }
  return dir;
}

async function workerDirs(): Promise<{ blobs: string; workspaces: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-worker-'));
  return { blobs: path.join(dir, 'blobs'), workspaces: path.join(dir, 'workspaces') };
}

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const abs = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, abs);
    if (entry.isSymbolicLink()) out[rel] = `-> ${await fs.readlink(abs)}`;
    else if (entry.isFile()) out[rel] = `${((await fs.stat(abs)).mode & 0o777).toString(8)} ${await fs.readFile(abs, 'utf8')}`;
  }
  return out;
}

test('a worker rebuilds the workspace exactly: files, modes and symlinks, without node_modules or .rsi working files', async () => {
  const ws = await workspace({ 'src/a.js': 'a', 'run.sh': '#!/bin/sh\necho 1\n', 'same.txt': 'a', '.rsi/config.json': '{}', '.rsi/lessons.jsonl': '', 'node_modules/x/index.js': 'x' });
  await fs.chmod(path.join(ws, 'run.sh'), 0o755);
  await fs.symlink('src/a.js', path.join(ws, 'link.js'));
  const id = await new SnapshotUploader('t1', ws).snapshot(redis);
  const dir = await new SnapshotStore(redis, 't1', await workerDirs()).materialize(id);
  assert.deepEqual(await tree(dir), {
    '.rsi/config.json': '644 {}',
    'link.js': '-> src/a.js',
    'run.sh': '755 #!/bin/sh\necho 1\n',
    'same.txt': '644 a',
    'src/a.js': '644 a',
  });
  // Content stored once: two files with the same bytes share a blob.
  assert.equal((await redis.keys('t1:blob:*')).length, 3);
});

test('the same files make the same manifest; a changed file makes a new one, with one new blob', async () => {
  const ws = await workspace({ 'a.txt': 'one', 'b.txt': 'two' });
  const uploader = new SnapshotUploader('t2', ws);
  const first = await uploader.snapshot(redis);
  assert.equal(await uploader.snapshot(redis), first);
  await fs.writeFile(path.join(ws, 'b.txt'), 'three');
  await fs.utimes(path.join(ws, 'b.txt'), new Date(), new Date(Date.now() + 5000));
  const second = await uploader.snapshot(redis);
  assert.notEqual(second, first);
  assert.equal((await redis.keys('t2:blob:*')).length, 3);
});

test('a snapshot whose blob is gone from Redis is a clear error, not a crash', async () => {
  const ws = await workspace({ 'src/main.js': 'x' });
  const id = await new SnapshotUploader('t3', ws).snapshot(redis);
  await redis.del(...(await redis.keys('t3:blob:*')));
  const store = new SnapshotStore(redis, 't3', await workerDirs());
  await assert.rejects(store.materialize(id), (err: Error) => err instanceof SnapshotMissingError && /src\/main\.js of the workspace snapshot is not in Redis/.test(err.message));
  await assert.rejects(store.materialize('0'.repeat(64)), /snapshot 000000000000 is not in Redis/);
});
