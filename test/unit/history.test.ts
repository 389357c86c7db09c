import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_FILE, history, type HistoryCache } from '../../src/runner/history';
import type { HistoryParams } from '../../src/protocol/runner';
import { commit, git, newRepo, tempDir } from '../gitRepo';

const signal = new AbortController().signal;

function run(workspace: string, storageRoot: string, commits = 300, paths?: string[]) {
  const params: HistoryParams = { workspace, storageRoot, commits, ...(paths && { paths }) };
  return history(params, signal);
}

/** The one cache file under the storage root (in the workspace's hash folder). */
function cacheFile(storageRoot: string): string {
  const [home] = readdirSync(storageRoot);
  return join(storageRoot, home!, CACHE_FILE);
}

test('indexes cold, then only the new commit, with the cache outside the workspace', async () => {
  const repo = newRepo();
  commit(repo, 'add a and b', { 'a.js': '1', 'src/b.js': '1' }, 30);
  commit(repo, 'fix: b off by one', { 'src/b.js': '2' }, 20);
  commit(repo, 'tune a', { 'a.js': '2' }, 10);
  const storage = tempDir('rsi-storage-');

  const cold = await run(repo, storage);
  assert.equal(cold.commits, 3);
  assert.equal(cold.indexedNow, 3);
  const byPath = new Map(cold.files.map((f) => [f.path, f]));
  assert.deepEqual(byPath.get('src/b.js'), { path: 'src/b.js', churn: 2, fixes: 1, lastChangedDays: 20, firstSeenDays: 30 });
  assert.deepEqual(byPath.get('a.js'), { path: 'a.js', churn: 2, fixes: 0, lastChangedDays: 10, firstSeenDays: 30 });

  const file = cacheFile(storage);
  assert.ok(!file.startsWith(repo + '/'), `${file} is inside the workspace`);
  const cache = JSON.parse(readFileSync(file, 'utf8')) as HistoryCache;
  assert.equal(cache.head, git(repo, ['rev-parse', 'HEAD']).trim());
  assert.equal(git(repo, ['status', '--porcelain']), '', 'the workspace has no new file');

  const unchanged = await run(repo, storage);
  assert.equal(unchanged.indexedNow, 0);

  commit(repo, 'Revert "tune a"', { 'a.js': '1' }, 0);
  const warm = await run(repo, storage);
  assert.equal(warm.indexedNow, 1);
  assert.equal(warm.commits, 4);
  assert.deepEqual(warm.files.find((f) => f.path === 'a.js'), { path: 'a.js', churn: 3, fixes: 1, lastChangedDays: 0, firstSeenDays: 30 });
});

test('a rewritten HEAD, a grown window and a workspace inside the repository', async () => {
  const repo = newRepo();
  for (let i = 0; i < 5; i++) commit(repo, `change ${i}`, { [`pkg/f${i}.js`]: String(i), 'top.js': String(i) }, 10 - i);
  const storage = tempDir('rsi-storage-');
  const workspace = join(repo, 'pkg');

  const small = await run(workspace, storage, 2);
  assert.equal(small.commits, 2);
  assert.deepEqual(small.files.map((f) => f.path).sort(), ['f3.js', 'f4.js'], 'workspace-relative, top.js is outside it');

  const grown = await run(workspace, storage, 4);
  assert.equal(grown.commits, 4);
  assert.equal(grown.indexedNow, 2, 'only the commits past the cached ones');

  git(repo, ['commit', '-q', '--amend', '-m', 'change 4, reworded']);
  const amended = await run(workspace, storage, 4);
  assert.equal(amended.indexedNow, 1);
  assert.equal(amended.commits, 4);

  const only = await run(workspace, storage, 4, ['f2.js', 'missing.js']);
  assert.deepEqual(only.files.map((f) => f.path), ['f2.js']);
});

test('a workspace outside git gives no insight and no error', async () => {
  const workspace = tempDir('rsi-nogit-');
  const storage = tempDir('rsi-storage-');
  const result = await run(workspace, storage);
  assert.deepEqual({ files: result.files, commits: result.commits, indexedNow: result.indexedNow }, { files: [], commits: 0, indexedNow: 0 });
  assert.deepEqual(readdirSync(storage), [], 'nothing cached');
});

test('a repository without commits gives no insight', async () => {
  const storage = tempDir('rsi-storage-');
  const result = await run(newRepo(), storage);
  assert.equal(result.commits, 0);
  assert.deepEqual(readdirSync(storage), [], 'nothing cached');
});
