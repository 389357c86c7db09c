import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeWorkspace, readLessonLines, runCli } from './helpers';

const AGENTS = path.resolve(__dirname, '../fixtures/agents');

/** A workspace whose score is deterministic and best at X = 6, with a coding agent as the proposer. */
function fixture(agentScript: string) {
  return makeWorkspace({
    'params.js': 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n',
    'metric.js': "const { X } = require('./params');\nconsole.log(JSON.stringify({ score: -((X - 6) ** 2) }));\n",
    '.rsi/config.json': {
      metric: { name: 'score', command: 'node metric.js', read: { json: 'score' }, direction: 'maximize' },
      targets: ['params.js'],
      candidates: 2,
      // Node's own RSS varies by more than the default 10% under a loaded test run: this test is about the proposer.
      limits: { memoryGrowth: 5 },
      proposer: { kind: 'command', command: process.execPath, args: [path.join(AGENTS, agentScript)], timeoutMs: 30_000 },
    },
  });
}

async function cycle(workspace: string) {
  const sandboxes = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-sandboxes-'));
  return runCli(['cycle', '--json', '--proposer', 'command', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: sandboxes } });
}

test('rsi cycle --proposer command: an agent\'s diff that improves the metric is kept', async () => {
  const workspace = await fixture('diff-agent.js');
  const result = await cycle(workspace);
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assert.deepEqual(summary.outcomes, { kept: 1 });
  assert.match(summary.proposal.patch, /^\+const X = 6;/m);
  const [lesson] = await readLessonLines(workspace);
  assert.equal(lesson!.proposer, 'command:node');
  assert.match(lesson!.hypothesis, /^X = 6 is the optimum/);
  assert.equal(lesson!.metric.candidate.median, 0);
});

test('rsi cycle --proposer command: an agent answering prose gives an invalid lesson showing what it said', async () => {
  const workspace = await fixture('garbage-agent.js');
  const result = await cycle(workspace);
  assert.equal(result.code, 0, result.stderr);
  const lessons = await readLessonLines(workspace);
  assert.equal(lessons.length, 1);
  assert.equal(lessons[0]!.outcome, 'invalid');
  assert.match(lessons[0]!.detail, /^the answer contains no edit\n--- proposer output \(first 4000 characters\) ---\nI looked at your code/);
});
