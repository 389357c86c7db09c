import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

const RAISE_TO_4 = '--- a/params.js\n+++ b/params.js\n@@ -1,1 +1,1 @@\n-const X = 1; // rsi: int 1..9\n+const X = 4; // rsi: int 1..9\n';
const base = { v: 1, time: '2025-01-01T00:00:00.000Z', cycle: 1, proposer: 'command', files: ['params.js'], patchHash: '', durationMs: 1 };
const metric = (change: number) => ({ name: 'score', direction: 'maximize', baseline: { median: -25, n: 1 }, candidate: { median: -25 * (1 - change), n: 1 }, change, ci: [change, change], p: 0 });

test('rsi context prints the goal, the lessons digest, the measuring code and a profile taken in a sandbox', async () => {
  const workspace = await fixture([
    { ...base, id: 'a', hypothesis: 'raise X to 4', patch: RAISE_TO_4, outcome: 'kept', metric: metric(0.64) },
    { ...base, id: 'b', hypothesis: 'raise X to 9', patch: '', outcome: 'kept', metric: metric(0.36) },
    { v: 1, type: 'verdict', lesson: 'b', verdict: 'rejected' },
  ]);
  const storage = tempDir('rsi-e2e-storage-');
  const result = await runCli(['context', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: storage } });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^## Goal\nMake the metric `score` higher \(maximize\)/);
  assert.match(result.stdout, /^Current baseline: -25\.$/m);
  assert.match(result.stdout, /^The metric is deterministic/m);
  assert.match(result.stdout, /^- \+64\.00% "raise X to 4" in params\.js\n {4}-const X = 1; \/\/ rsi: int 1\.\.9\n {4}\+const X = 4; \/\/ rsi: int 1\.\.9$/m);
  assert.match(result.stdout, /^- the user rejected: "raise X to 9" in params\.js \(measured \+36\.00%\)$/m);
  assert.match(result.stdout, /^### params\.js\n```\nconst X = 1;/m);
  assert.match(result.stdout, /^- params\.js: 1 commit, last changed today/m);
  assert.match(result.stderr, /^\d+ characters \(budget 60000\); the baseline is cycle 1's measurement of the files as they are now/m);
  assert.match(result.stdout, /^## Measuring code .*\n### metric\.js \(run by the metric command `node metric\.js`\)\n```\nrequire\('fs'\)/m);
  assert.match(result.stdout, /^## Where the time goes: CPU profile of one baseline run \(\d+ ms busy in 1 Node process;/m);
  assert.match(result.stderr, /^profiling one baseline run of `node metric\.js` \(once per baseline\)$/m, 'running the metric is said');
  assert.ok(!existsSync(join(workspace, 'metric-ran')), 'the metric runs in a sandbox, never in the workspace');

  const again = await runCli(['context', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: storage } });
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /profiling/, 'the same baseline is profiled once');
  assert.equal(again.stdout, result.stdout);
});

test('rsi context without lessons says no baseline was measured', async () => {
  const workspace = await fixture();
  const result = await runCli(['context', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: tempDir('rsi-e2e-storage-') } });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Current baseline: \(none measured on the files as they are now\)\.$/m);
  assert.doesNotMatch(result.stdout, /What was tried before/);
});

test('a tuner cycle never reads the git history nor profiles', async () => {
  const workspace = await fixture();
  const storage = tempDir('rsi-e2e-storage-');
  const result = await runCli(['cycle', '--json', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: storage } });
  assert.equal(result.code, 0, result.stderr);
  const [home] = readdirSync(storage);
  assert.ok(existsSync(join(storage, home!, 'a')), 'the cycle ran in this storage');
  assert.ok(!existsSync(join(storage, home!, 'history.json')));
  assert.ok(!existsSync(join(storage, home!, 'profiles.json')));
});

test('a model proposer\'s cycle profiles the baseline after measuring it, before any candidate, and tells the model', async () => {
  const workspace = await fixture();
  const record = join(tempDir('rsi-e2e-record-'), 'prompt.json');
  const agent = resolve(__dirname, '../fixtures/agents/diff-agent.js');
  const config = JSON.parse(readFileSync(join(workspace, '.rsi/config.json'), 'utf8'));
  const proposer = { kind: 'command', command: process.execPath, args: [agent, '--record', record], timeoutMs: 30_000 };
  // Node's own RSS varies by more than the default 10% under a loaded test run: this test is about the context.
  writeFileSync(join(workspace, '.rsi/config.json'), JSON.stringify({ ...config, proposer, candidates: 1, limits: { memoryGrowth: 5 } }));
  const result = await runCli(['cycle', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: tempDir('rsi-e2e-storage-') } });
  assert.equal(result.code, 0, result.stderr);
  const order = ['measuring the baseline', 'profiling one baseline run of `node metric.js`', 'candidate 1/1'].map((line) => result.stderr.indexOf(line));
  assert.ok(order[0]! >= 0 && order.every((at, i) => i === 0 || at > order[i - 1]!), result.stderr);
  const { prompt } = JSON.parse(readFileSync(record, 'utf8')) as { prompt: string };
  assert.match(prompt, /^## Where the time goes: CPU profile of one baseline run \(\d+ ms busy in 1 Node process;/m);
  assert.match(prompt, /^### metric\.js \(run by the metric command `node metric\.js`\)$/m);
});
