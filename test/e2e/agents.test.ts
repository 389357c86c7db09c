import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeWorkspace, readLessonLines, runCli } from './helpers';

const EDIT_AGENT = path.resolve(__dirname, '../fixtures/agents/edit-agent.js');
const PARAMS = 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n';
const SIX = PARAMS.replace('X = 1', 'X = 6');

/**
 * A workspace whose deterministic score is best at X = 6, a gate (check.js, protected) that writes a
 * report, and a coding agent (edit-agent.js) that edits its working copy as `plan` says.
 */
function fixture(plan: object) {
  return makeWorkspace({
    'params.js': PARAMS,
    'legacy.js': 'module.exports = "unused";\n',
    'README.md': '# demo\n',
    'metric.js': "const { X } = require('./params');\nconsole.log(JSON.stringify({ score: -((X - 6) ** 2) }));\n",
    'check.js': "require('./params');\nrequire('node:fs').writeFileSync('check-report.txt', 'ok\\n');\nconsole.log('check: ok');\n",
    '.rsi/config.json': {
      metric: { name: 'score', command: 'node metric.js', read: { json: 'score' }, direction: 'maximize' },
      gate: ['node check.js'],
      targets: ['params.js', 'legacy.js'],
      protected: ['check.js'],
      candidates: 1,
      limits: { memoryGrowth: 5 }, // Node's RSS varies by more than 10% under a loaded test run: these tests are about the agent
      proposer: { kind: 'command', command: process.execPath, args: [EDIT_AGENT, JSON.stringify(plan)], timeoutMs: 30_000 },
    },
  });
}

async function cycle(workspace: string) {
  const sandboxes = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-sandboxes-'));
  const result = await runCli(['cycle', '--json', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: sandboxes } });
  assert.equal(result.code, 0, result.stderr);
  const [lesson, ...more] = await readLessonLines(workspace);
  assert.equal(more.length, 0);
  return { summary: JSON.parse(result.stdout), lesson: lesson! };
}

test('an agent\'s edit in its working copy that improves the metric is kept; the user\'s files are untouched', async () => {
  const workspace = await fixture({ write: { 'params.js': SIX }, say: 'Looked at metric.js.\nHypothesis: X = 6 maximizes the score' });
  const { summary, lesson } = await cycle(workspace);
  assert.equal(lesson.outcome, 'kept');
  assert.equal(lesson.hypothesis, 'X = 6 maximizes the score');
  assert.deepEqual(lesson.files, ['params.js']);
  assert.equal(lesson.detail, undefined);
  assert.match(summary.proposal.patch, /^\+const X = 6;/m);
  assert.equal(await fs.readFile(path.join(workspace, 'params.js'), 'utf8'), PARAMS);
});

test('an agent that edits a protected file is refused: the candidate is invalid', async () => {
  const workspace = await fixture({ write: { 'params.js': SIX, 'check.js': 'console.log("check: ok");\n' }, say: 'Hypothesis: X = 6, and a faster check' });
  const { lesson } = await cycle(workspace);
  assert.equal(lesson.outcome, 'invalid');
  assert.match(lesson.detail, /^check\.js is protected/);
});

test('an agent\'s edits outside the targets are dropped and said in the lesson; its edit of a target is tried', async () => {
  const workspace = await fixture({ write: { 'params.js': SIX, 'NOTES.md': 'I tried 6\n' }, say: 'Hypothesis: X = 6' });
  const { summary, lesson } = await cycle(workspace);
  assert.equal(lesson.outcome, 'kept');
  assert.deepEqual(lesson.files, ['params.js']);
  assert.match(lesson.detail, /dropped: the agent's edits outside the targets \(NOTES\.md\)$/);
  assert.doesNotMatch(summary.proposal.patch, /NOTES/);
});

test('an agent that deletes a file: a deleted target is the candidate, a deleted file outside the targets is dropped', async () => {
  const workspace = await fixture({ delete: ['legacy.js', 'README.md'], say: 'Hypothesis: legacy.js is dead code' });
  const { lesson } = await cycle(workspace);
  assert.equal(lesson.outcome, 'no-effect');
  assert.deepEqual(lesson.files, ['legacy.js']);
  assert.match(lesson.patch, /^\+\+\+ \/dev\/null$/m);
  assert.match(lesson.detail, /dropped: the agent's edits outside the targets \(README\.md\)$/);
  await fs.access(path.join(workspace, 'legacy.js'));
});

test('an agent that runs the gate in its working copy: the gate\'s output file is dropped, the edit kept', async () => {
  const workspace = await fixture({ write: { 'params.js': SIX }, run: [[process.execPath, 'check.js']], say: 'The check passes.\nHypothesis: X = 6' });
  const { lesson } = await cycle(workspace);
  assert.equal(lesson.outcome, 'kept');
  assert.deepEqual(lesson.files, ['params.js']);
  assert.match(lesson.detail, /dropped: the agent's edits outside the targets \(check-report\.txt\)$/);
});
