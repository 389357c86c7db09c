import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { AGENT_OUTPUT_BYTES, createCommandProposer, type CommandConfig } from '../../src/core/proposers/command';
import { ProposerError } from '../../src/core/proposers/errors';
import { ANSWER_FORMAT } from '../../src/core/proposers/format';
import type { ProposeContext, Proposer } from '../../src/core/proposers/types';
import { AgentWorkingCopy } from '../../src/runner/agentCopy';
import { isRunning, waitFor } from '../processes';
import { proposeContext } from '../proposeContext';

const AGENTS = resolve(__dirname, '../fixtures/agents');
const PARAMS = 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n';

function agent(script: string, args: string[] = [], overrides: Partial<CommandConfig> = {}): CommandConfig {
  return { kind: 'command', command: process.execPath, args: [join(AGENTS, script), ...args], env: [], timeoutMs: 10_000, samples: 1, ...overrides };
}

/** edit-agent.js following `plan` (see the script). */
function editAgent(plan: object, overrides: Partial<CommandConfig> = {}): CommandConfig {
  return agent('edit-agent.js', [JSON.stringify(plan)], overrides);
}

function context(overrides: Partial<ProposeContext> = {}) {
  return proposeContext({ 'params.js': PARAMS }, { count: 2, ...overrides });
}

const scratch = () => mkdtempSync(join(tmpdir(), 'rsi-command-'));

/** A workspace on disk (params.js, a README, the loop's .rsi/) and the agent's working copy of it. */
function workspace(files: Record<string, string> = {}) {
  const dir = scratch();
  const all = { 'params.js': PARAMS, 'README.md': '# demo\n', '.rsi/config.json': '{}', '.rsi/lessons.jsonl': '', ...files };
  for (const [rel, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return { dir, copy: new AgentWorkingCopy(scratch(), dir) };
}

function proposer(config: CommandConfig, ws = workspace()): Proposer {
  return createCommandProposer(config, { workspace: ws.dir, workingCopy: ws.copy });
}

const records = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));

test('an agent reading the prompt on stdin answers with a diff: one patch proposal', async () => {
  const record = join(scratch(), 'record.json');
  const proposals = await proposer(agent('diff-agent.js', ['--record', record])).propose(context());
  assert.equal(proposals.length, 1);
  const [proposal] = proposals;
  assert.equal(proposal!.error, undefined);
  assert.deepEqual(proposal!.edits.map((e) => [e.kind, e.path]), [['patch', 'params.js']]);
  assert.match(proposal!.hypothesis, /^X = 6 is the optimum/);
  // The context memory (here the file's content), the answer format, the count.
  const { prompt } = JSON.parse(readFileSync(record, 'utf8'));
  assert.ok(prompt.includes(PARAMS));
  assert.ok(prompt.includes(ANSWER_FORMAT));
  assert.match(prompt, /Propose 2 candidates/);
});

test('the context builder\'s prompt is sent when there is one, and the answer format not twice', async () => {
  const record = join(scratch(), 'record.json');
  const memory = `# Context memory\nlessons...\n\n${ANSWER_FORMAT}`;
  await proposer(agent('diff-agent.js', ['--record', record])).propose(context({ prompt: async () => memory }));
  const { prompt } = JSON.parse(readFileSync(record, 'utf8'));
  assert.ok(prompt.startsWith(memory));
  assert.equal(prompt.split(ANSWER_FORMAT).length, 2);
});

test('{promptFile} in the arguments: the prompt is in that file, stdin is empty, the file is removed after', async () => {
  const record = join(scratch(), 'record.json');
  const config = agent('diff-agent.js', ['--prompt-file', '{promptFile}', '--record', record]);
  const [proposal] = await proposer(config).propose(context());
  assert.equal(proposal!.error, undefined);
  const seen = JSON.parse(readFileSync(record, 'utf8'));
  assert.equal(seen.stdin, '');
  assert.ok(seen.prompt.includes(PARAMS));
  assert.match(seen.promptFile, /rsi-agent-.*prompt\.md$/);
  assert.equal(existsSync(seen.promptFile), false);
});

test('an answer without an edit is one proposal with the reason and the raw output', async () => {
  const proposals = await proposer(agent('garbage-agent.js')).propose(context());
  assert.equal(proposals.length, 1);
  assert.equal(proposals[0]!.error, 'the answer contains no edit');
  assert.match(proposals[0]!.raw!, /it seems fine/);
});

test('an agent exiting non-zero gives an error with its exit code and first stderr lines', async () => {
  const [proposal] = await proposer(agent('failing-agent.js')).propose(context());
  assert.match(proposal!.error!, /^the agent exited with code 3: error: not logged in\nrun `agent login` first$/);
  assert.match(proposal!.raw!, /--- stderr ---\nerror: not logged in/);
});

test('an agent that hangs is stopped at the timeout, its child process too', async () => {
  const pidFile = join(scratch(), 'pids');
  const started = Date.now();
  const [proposal] = await proposer(agent('hanging-agent.js', [pidFile], { timeoutMs: 1500 })).propose(context());
  assert.ok(Date.now() - started < 8000);
  assert.match(proposal!.error!, /did not finish within 1500 ms/);
  assert.match(proposal!.raw!, /Thinking/);
  const pids = readFileSync(pidFile, 'utf8').split(' ').map(Number);
  assert.equal(pids.length, 2);
  assert.ok(await waitFor(() => !pids.some(isRunning), 2000), `still running: ${pids.filter(isRunning)}`);
});

test('cancelling stops the agent and its child at once, with no proposal', async () => {
  const pidFile = join(scratch(), 'pids');
  const controller = new AbortController();
  const proposing = proposer(agent('hanging-agent.js', [pidFile])).propose(context({ signal: controller.signal }));
  assert.ok(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(' '), 5000));
  const started = Date.now();
  controller.abort();
  assert.deepEqual(await proposing, []);
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  const pids = readFileSync(pidFile, 'utf8').split(' ').map(Number);
  assert.ok(await waitFor(() => !pids.some(isRunning), 2000), `still running: ${pids.filter(isRunning)}`);
});

test('several samples run the agent several times; candidates beyond the count are dropped', async () => {
  const two = await proposer(agent('diff-agent.js', [], { samples: 2 })).propose(context());
  assert.equal(two.length, 2);
  const ctx = context({ count: 2 });
  const three = await proposer(agent('diff-agent.js', [], { samples: 3 })).propose(ctx);
  assert.equal(three.length, 2);
  assert.ok(ctx.logs.some((l) => /1 candidate\(s\) beyond the 2 asked for were dropped/.test(l)), ctx.logs.join('\n'));
});

test('output beyond the cap is not read: the answer would be cut', async () => {
  const [proposal] = await proposer(agent('garbage-agent.js', [String(AGENT_OUTPUT_BYTES + 10)])).propose(context());
  assert.match(proposal!.error!, /printed more than \d+ bytes/);
});

test('an agent that is not installed stops the run with a message naming it', async () => {
  const config: CommandConfig = { kind: 'command', command: 'rsi-no-such-agent', args: [], env: [], timeoutMs: 5000, samples: 1 };
  await assert.rejects(proposer(config).propose(context()), (err: Error) => {
    assert.ok(err instanceof ProposerError);
    assert.match(err.message, /the agent "rsi-no-such-agent" was not found: is it installed and on the PATH\?/);
    return true;
  });
});

// The agent in a working copy of the workspace.

const WINNER = PARAMS.replace('X = 1', 'X = 3');
const SIX = PARAMS.replace('X = 1', 'X = 6');

test('the agent works in a copy of the baseline named in the prompt: its edit is the candidate, the workspace untouched', async () => {
  const ws = workspace();
  const record = join(scratch(), 'record.jsonl');
  const plan = { record, write: { 'params.js': SIX }, say: 'I read params.js.\n\nHypothesis: X = 6 is the optimum\n\nDone.' };
  // The cycle's baseline has a kept winner (X = 3) that the workspace does not have yet.
  const proposals = await proposer(editAgent(plan), ws).propose(proposeContext({ 'params.js': WINNER }));
  assert.deepEqual(proposals, [{ hypothesis: 'X = 6 is the optimum', edits: [{ kind: 'file', path: 'params.js', content: SIX }], raw: `${plan.say}\n` }]);
  const [seen] = records(record);
  assert.ok(seen.prompt.includes(`You work in ${seen.cwd}:`), seen.prompt);
  assert.ok(!seen.cwd.startsWith(ws.dir), 'the copy is outside the workspace');
  assert.deepEqual(Object.keys(seen.files).sort(), ['README.md', 'params.js'], 'everything but .rsi/');
  assert.equal(seen.files['params.js'], WINNER);
  assert.equal(readFileSync(join(ws.dir, 'params.js'), 'utf8'), PARAMS);
});

test('edits outside the targets are dropped with a note; a protected file and a deleted target stay for validation', async () => {
  const ws = workspace({ 'legacy.js': 'old\n', 'test/a.test.js': 'test\n' });
  const plan = {
    write: { 'params.js': SIX, 'build/out.txt': 'built', 'test/a.test.js': 'always passes', '.git/HEAD': 'ref' },
    delete: ['legacy.js', 'README.md'],
    say: 'Hypothesis: X = 6, without the legacy module',
  };
  const ctx = proposeContext({ 'params.js': PARAMS, 'legacy.js': 'old\n' }, { scope: { targets: ['*.js'], protected: ['test/**'] } });
  const [proposal] = await proposer(editAgent(plan), ws).propose(ctx);
  assert.deepEqual(proposal!.edits, [
    { kind: 'delete', path: 'legacy.js' },
    { kind: 'file', path: 'params.js', content: SIX },
    { kind: 'file', path: 'test/a.test.js', content: 'always passes' },
  ]);
  assert.equal(proposal!.note, "dropped: the agent's edits outside the targets (.git/HEAD, README.md, build/out.txt)");
  assert.equal(proposal!.error, undefined);
});

test('an agent that changed only files of its own answers on stdout: the answer is read, the files noted', async () => {
  const diff = '```diff\n--- a/params.js\n+++ b/params.js\n@@ -1,2 +1,2 @@\n-const X = 1; // rsi: int 1..9\n+const X = 6; // rsi: int 1..9\n module.exports = { X };\n```';
  const plan = { write: { '.agent-history.md': 'chat' }, say: `Hypothesis: X = 6\n\n${diff}` };
  const [proposal] = await proposer(editAgent(plan)).propose(context());
  assert.deepEqual(proposal!.edits.map((e) => [e.kind, e.path]), [['patch', 'params.js']]);
  assert.equal(proposal!.note, "dropped: the agent's edits outside the targets (.agent-history.md)");
});

test('two samples each start from the baseline: neither sees the other\'s edit', async () => {
  const record = join(scratch(), 'record.jsonl');
  const plan = { record, append: { 'params.js': '// tuned\n' }, write: { 'notes/idea.md': 'try 6' }, say: 'Hypothesis: a comment' };
  const proposals = await proposer(editAgent(plan, { samples: 2 })).propose(context());
  assert.equal(proposals.length, 2);
  for (const p of proposals) assert.deepEqual(p.edits, [{ kind: 'file', path: 'params.js', content: `${PARAMS}// tuned\n` }]);
  const seen = records(record);
  assert.equal(seen.length, 2);
  for (const s of seen) assert.deepEqual(s.files, { 'README.md': '# demo\n', 'params.js': PARAMS });
  assert.deepEqual(readdirSync(seen[1].cwd).sort(), ['README.md', 'params.js'], 'the copy is put back after the last run too');
});

test('the agent gets no key from the environment unless the config names it', async () => {
  const record = join(scratch(), 'record.jsonl');
  process.env.RSI_TEST_AGENT_KEY = 'named';
  process.env.RSI_TEST_OTHER_SECRET = 'not named';
  try {
    await proposer(editAgent({ record }, { env: ['RSI_TEST_AGENT_KEY'] })).propose(context());
  } finally {
    delete process.env.RSI_TEST_AGENT_KEY;
    delete process.env.RSI_TEST_OTHER_SECRET;
  }
  const [{ env }] = records(record);
  assert.equal(env.RSI_TEST_AGENT_KEY, 'named');
  assert.equal(env.RSI_TEST_OTHER_SECRET, undefined);
  assert.equal(env.PATH, process.env.PATH);
});

test('an agent that edits and then hangs is stopped at the timeout with its tree; its edits are not taken', async () => {
  const pidFile = join(scratch(), 'pids');
  const plan = { write: { 'params.js': SIX }, run: [[process.execPath, join(AGENTS, 'hanging-agent.js'), pidFile]] };
  const [proposal] = await proposer(editAgent(plan, { timeoutMs: 1500 })).propose(context());
  assert.match(proposal!.error!, /did not finish within 1500 ms .*; its edits in the working copy are not taken$/);
  assert.deepEqual(proposal!.edits, []);
  const pids = readFileSync(pidFile, 'utf8').split(' ').map(Number);
  assert.ok(await waitFor(() => !pids.some(isRunning), 2000), `still running: ${pids.filter(isRunning)}`);
});
