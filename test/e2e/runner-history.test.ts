import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RunnerClient } from '../../src/runner/client';
import { commit, newRepo, tempDir } from '../gitRepo';

const RUNNER = resolve(__dirname, '../../dist/runner.js');

/**
 * The scripts a runner process evaluated, from V8's coverage (NODE_V8_COVERAGE, written when the
 * runner exits): every script that ran at all is listed.
 */
async function scriptsEvaluated(work: (runner: RunnerClient) => Promise<void>): Promise<string[]> {
  const coverage = tempDir('rsi-coverage-');
  process.env.NODE_V8_COVERAGE = coverage; // inherited by the forked runner only
  const runner = new RunnerClient({ runnerPath: RUNNER });
  try {
    await work(runner);
  } finally {
    await runner.dispose();
    delete process.env.NODE_V8_COVERAGE;
  }
  return readdirSync(coverage).flatMap((file) =>
    (JSON.parse(readFileSync(join(coverage, file), 'utf8')) as { result: { url: string }[] }).result.map((s) => s.url),
  );
}

test('the runner starts without the history bundle (isomorphic-git); the first history request loads it', async () => {
  const atStart = await scriptsEvaluated(async (runner) => void (await runner.request('ping', {})));
  assert.ok(atStart.some((url) => url.endsWith('/dist/runner.js')), 'coverage lists the runner itself');
  assert.deepEqual(atStart.filter((url) => /history\.js$|isomorphic-git/.test(url)), []);

  const repo = newRepo();
  commit(repo, 'one', { 'a.js': '1' });
  const storageRoot = tempDir('rsi-storage-');
  let commits = 0;
  const afterHistory = await scriptsEvaluated(async (runner) => {
    commits = (await runner.request('history', { workspace: repo, storageRoot, commits: 10 })).commits;
  });
  assert.equal(commits, 1);
  assert.ok(afterHistory.some((url) => url.endsWith('/dist/history.js')));
});
