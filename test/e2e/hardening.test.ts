// What a hostile proposal, a bad workspace or bad luck must never do: lose a user's edit, leak a
// secret into a lesson, crash the run, or print a stack trace for a mistake the user can fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeWorkspace, readLessonLines, runCli } from './helpers';

const STACK = /\n\s+at .+:\d+:\d+/;

async function cycle(workspace: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const sandboxes = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-sandboxes-'));
  return runCli(['cycle', '--json', '--workspace', workspace, ...args], { env: { RSI_SANDBOX_ROOT: sandboxes, ...env } });
}

/**
 * A deterministic score that grows with X's distance from 10 (so that every first move wins, up or
 * down), whose metric plays the user: on the run named by `when`
 * it appends a line to the real workspace's params.js (once), as an editor saving would.
 */
async function editingWorkspace(when: 'candidate' | 'after-first-apply') {
  const ws = await makeWorkspace({ 'params.js': 'const X = 10; // rsi: int 1..100\nmodule.exports = { X };\n' });
  const userFile = path.join(ws, 'params.js');
  const marker = path.join(ws, '.rsi', 'edited');
  await fs.mkdir(path.join(ws, '.rsi'));
  const trigger =
    when === 'candidate'
      ? "require('./params').X !== 10"
      : `!fs.readFileSync(${JSON.stringify(userFile)}, 'utf8').startsWith('const X = 10;')`;
  await fs.writeFile(
    path.join(ws, 'metric.js'),
    `const fs = require('node:fs');
if (${trigger} && !fs.existsSync(${JSON.stringify(marker)})) {
  fs.writeFileSync(${JSON.stringify(marker)}, '');
  fs.appendFileSync(${JSON.stringify(userFile)}, '// the user was here\\n');
}
const { X } = require('./params');
console.log(JSON.stringify({ score: (X - 10) ** 2 }));
`,
  );
  await fs.writeFile(
    path.join(ws, '.rsi/config.json'),
    JSON.stringify({ metric: { name: 'score', command: 'node metric.js', read: { json: 'score' }, direction: 'maximize' }, targets: ['params.js'], candidates: 3 }),
  );
  return ws;
}

test('--auto-accept never writes over an edit saved after the winner was validated', async () => {
  const ws = await editingWorkspace('candidate');
  const result = await cycle(ws, ['--auto-accept']);
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assert.ok(summary.outcomes.kept >= 1, result.stdout);
  assert.equal(await fs.readFile(path.join(ws, 'params.js'), 'utf8'), 'const X = 10; // rsi: int 1..100\nmodule.exports = { X };\n// the user was here\n');
  assert.deepEqual(summary.applied, []);
  assert.ok(summary.proposal, 'the winner stays a pending proposal');
  assert.equal((await readLessonLines(ws)).filter((r) => r.type === 'verdict').length, 0);
});

test('--auto-accept over two cycles: an edit saved during the second never loses to its winner', async () => {
  const ws = await editingWorkspace('after-first-apply');
  const result = await cycle(ws, ['--auto-accept', '--cycles', '2']);
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assert.equal(summary.applied.length, 1, 'the first winner was applied');
  assert.ok(summary.cycles[1].winner, 'the second cycle kept a winner too');
  const text = await fs.readFile(path.join(ws, 'params.js'), 'utf8');
  assert.match(text, /\/\/ the user was here\n$/);
  assert.doesNotMatch(text, /^const X = 10;/);
  assert.equal((await readLessonLines(ws)).filter((r) => r.type === 'verdict').length, 1);
});

test("the proposer's API key never reaches workspace commands, lessons or output", async () => {
  const secret = 'sk-test-7d1e0c9b44';
  const ws = await makeWorkspace({
    'params.js': 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n',
    'metric.js': "const { X } = require('./params');\nconsole.log(JSON.stringify({ score: -((X - 6) ** 2) }));\n",
    // The gate fails every candidate and prints what it finds in its environment.
    'gate.js': "console.log('key=' + process.env.RSI_TEST_KEY + ' env=' + JSON.stringify(process.env)); process.exit(require('./params').X === 1 ? 0 : 1);\n",
    '.rsi/config.json': {
      metric: { name: 'score', command: 'node metric.js', read: { json: 'score' }, direction: 'maximize' },
      gate: ['node gate.js'],
      targets: ['params.js'],
      candidates: 2,
      proposer: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'm', apiKeyEnv: 'RSI_TEST_KEY' },
    },
  });
  const result = await cycle(ws, ['--proposer', 'tuner'], { RSI_TEST_KEY: secret });
  assert.equal(result.code, 0, result.stderr);
  const lessons = await fs.readFile(path.join(ws, '.rsi/lessons.jsonl'), 'utf8');
  assert.match(lessons, /gate-failed/);
  assert.match(lessons, /key=undefined/);
  for (const text of [lessons, result.stdout, result.stderr]) assert.ok(!text.includes(secret));
});

test('odd proposal shapes are invalid lessons with their reason, and the run goes on to the good one', async () => {
  const ws = await makeWorkspace({
    'params.js': 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n',
    'lib/index.js': 'module.exports = 0;\n',
    'metric.js': "const { X } = require('./params');\nconsole.log(JSON.stringify({ score: -((X - 6) ** 2) }));\n",
    '.rsi/config.json': {
      metric: { name: 'score', command: 'node metric.js', read: { json: 'score' }, direction: 'maximize' },
      targets: ['**'],
      candidates: 5,
      proposer: { kind: 'command', command: process.execPath, args: [path.resolve(__dirname, '../fixtures/agents/odd-shapes-agent.js')] },
    },
  });
  await fs.mkdir(path.join(ws, 'node_modules/dep'), { recursive: true });
  await fs.writeFile(path.join(ws, 'node_modules/dep/index.js'), 'module.exports = 1;\n');
  const result = await cycle(ws, ['--proposer', 'command']);
  assert.equal(result.code, 0, result.stderr);
  const lessons = (await readLessonLines(ws)).filter((r) => r.type !== 'verdict');
  assert.deepEqual(lessons.map((l) => l.outcome), ['invalid', 'invalid', 'invalid', 'invalid', 'kept']);
  assert.match(lessons[0].detail, /lib is a folder/);
  assert.match(lessons[1].detail, /under a path that is a file/);
  assert.match(lessons[2].detail, /names a folder/);
  assert.match(lessons[3].detail, /inside node_modules/);
  assert.equal(await fs.readFile(path.join(ws, 'node_modules/dep/index.js'), 'utf8'), 'module.exports = 1;\n');
});

/** One sentence naming what to fix, exit 1 or 2, and no stack trace. */
async function failsClearly(files: Record<string, string | object>, expected: RegExp, code = 1) {
  const ws = await makeWorkspace(files);
  const result = await cycle(ws);
  assert.equal(result.code, code, result.stderr);
  assert.match(result.stderr, expected);
  assert.doesNotMatch(result.stderr, STACK);
  return ws;
}

const config = (metric: object, extra: object = {}) => ({
  'params.js': 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n',
  '.rsi/config.json': { metric: { name: 'm', direction: 'minimize', ...metric }, targets: ['params.js'], ...extra },
});

test('a broken workspace is one sentence, never a stack trace', async () => {
  await failsClearly({ 'params.js': 'const X = 1; // rsi: int 1..9\n', '.rsi/config.json/x': '' }, /\.rsi\/config\.json: is a folder: it must be a JSON file/, 2);
  await failsClearly(config({ command: 'no-such-benchmark --fast', read: 'wallTime' }), /the baseline metric command exited with code 127[\s\S]*not found[\s\S]*check metric\.command/);
  await failsClearly(config({ command: 'echo hello', read: { regex: 'score=(\\d+)' } }), /metric not found: no match for \/score=\(\\d\+\)\/[\s\S]*check metric\.command and metric\.read/);
  await failsClearly(config({ command: 'sleep 5', read: 'wallTime' }, { limits: { timeoutMs: 200 } }), /the baseline metric command timed out after 200 ms/);
});
