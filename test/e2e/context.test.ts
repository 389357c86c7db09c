import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { git, tempDir } from '../gitRepo';
import { makeWorkspace, runCli } from './helpers';

/** A git workspace whose metric command leaves a marker when it runs. */
async function fixture(lessons: object[] = []): Promise<string> {
  const workspace = await makeWorkspace({
    'params.js': 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n',
    'metric.js': "require('fs').writeFileSync('metric-ran', '');\nconsole.log(JSON.stringify({ score: 1 }));\n",
    '.rsi/config.json': {
      metric: { name: 'score', command: 'node metric.js', read: { json: 'score' }, direction: 'maximize' },
      targets: ['params.js'],
      candidates: 2,
    },
    '.rsi/lessons.jsonl': lessons.map((l) => JSON.stringify(l)).join('\n') + '\n',
  });
  git(workspace, ['init', '-q']);
  git(workspace, ['add', 'params.js', 'metric.js']);
  git(workspace, ['commit', '-q', '-m', 'start']);
  return workspace;
}

const base = { v: 1, time: '2025-01-01T00:00:00.000Z', cycle: 1, proposer: 'command', files: ['params.js'], patchHash: '', durationMs: 1 };
const metric = (change: number) => ({ name: 'score', direction: 'maximize', baseline: { median: -25, n: 1 }, candidate: { median: -25 * (1 - change), n: 1 }, change, ci: [change, change], p: 0 });

test('rsi context prints the goal and the lessons digest, and runs nothing of the workspace', async () => {
  const workspace = await fixture([
    { ...base, id: 'a', hypothesis: 'raise X to 4', patch: '-const X = 1;\n+const X = 4;\n', outcome: 'kept', metric: metric(0.64) },
    { ...base, id: 'b', hypothesis: 'raise X to 9', patch: '', outcome: 'kept', metric: metric(0.36) },
    { v: 1, type: 'verdict', lesson: 'b', verdict: 'rejected' },
  ]);
  const storage = tempDir('rsi-e2e-storage-');
  const result = await runCli(['context', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: storage } });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^## Goal\nMake the metric `score` higher \(maximize\)/);
  assert.match(result.stdout, /^Current baseline: -25\.$/m);
  assert.match(result.stdout, /^The metric is deterministic/m);
  assert.match(result.stdout, /^- \+64\.00% "raise X to 4" in params\.js\n {4}-const X = 1;\n {4}\+const X = 4;$/m);
  assert.match(result.stdout, /^- the user rejected: "raise X to 9" in params\.js \(measured \+36\.00%\)$/m);
  assert.match(result.stdout, /^### params\.js\n```\nconst X = 1;/m);
  assert.match(result.stdout, /^- params\.js: 1 commit, last changed today/m);
  assert.match(result.stderr, /^\d+ characters \(budget 60000\); the baseline is the latest lesson's/m);
  assert.ok(!existsSync(join(workspace, 'metric-ran')), 'the metric must not run');
});

test('rsi context without lessons says no baseline was measured', async () => {
  const workspace = await fixture();
  const result = await runCli(['context', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: tempDir('rsi-e2e-storage-') } });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Current baseline: \(no baseline measured yet\)\.$/m);
  assert.doesNotMatch(result.stdout, /What was tried before/);
});

test('a tuner cycle never reads the git history', async () => {
  const workspace = await fixture();
  const storage = tempDir('rsi-e2e-storage-');
  const result = await runCli(['cycle', '--json', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: storage } });
  assert.equal(result.code, 0, result.stderr);
  const [home] = readdirSync(storage);
  assert.ok(existsSync(join(storage, home!, 'a')), 'the cycle ran in this storage');
  assert.ok(!existsSync(join(storage, home!, 'history.json')));
});
