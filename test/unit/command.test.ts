import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AGENT_OUTPUT_BYTES, createCommandProposer, type CommandConfig } from '../../src/core/proposers/command';
import { ProposerError } from '../../src/core/proposers/errors';
import { ANSWER_FORMAT } from '../../src/core/proposers/format';
import type { ProposeContext } from '../../src/core/proposers/types';
import { isRunning, waitFor } from '../processes';
import { proposeContext } from '../proposeContext';

const AGENTS = resolve(__dirname, '../fixtures/agents');
const PARAMS = 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n';

function agent(script: string, args: string[] = [], overrides: Partial<CommandConfig> = {}): CommandConfig {
  return { kind: 'command', command: process.execPath, args: [join(AGENTS, script), ...args], timeoutMs: 10_000, samples: 1, ...overrides };
}

function context(overrides: Partial<ProposeContext> = {}) {
  return proposeContext({ 'params.js': PARAMS }, { count: 2, ...overrides });
}

const scratch = () => mkdtempSync(join(tmpdir(), 'rsi-command-'));

test('an agent reading the prompt on stdin answers with a diff: one patch proposal', async () => {
  const record = join(scratch(), 'record.json');
  const proposals = await createCommandProposer(agent('diff-agent.js', ['--record', record])).propose(context());
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
  await createCommandProposer(agent('diff-agent.js', ['--record', record])).propose(context({ prompt: async () => memory }));
  const { prompt } = JSON.parse(readFileSync(record, 'utf8'));
  assert.ok(prompt.startsWith(memory));
  assert.equal(prompt.split(ANSWER_FORMAT).length, 2);
});

test('{promptFile} in the arguments: the prompt is in that file, stdin is empty, the file is removed after', async () => {
  const record = join(scratch(), 'record.json');
  const config = agent('diff-agent.js', ['--prompt-file', '{promptFile}', '--record', record]);
  const [proposal] = await createCommandProposer(config).propose(context());
  assert.equal(proposal!.error, undefined);
  const seen = JSON.parse(readFileSync(record, 'utf8'));
  assert.equal(seen.stdin, '');
  assert.ok(seen.prompt.includes(PARAMS));
  assert.match(seen.promptFile, /rsi-agent-.*prompt\.md$/);
  assert.equal(existsSync(seen.promptFile), false);
});

test('an answer without an edit is one proposal with the reason and the raw output', async () => {
  const proposals = await createCommandProposer(agent('garbage-agent.js')).propose(context());
  assert.equal(proposals.length, 1);
  assert.equal(proposals[0]!.error, 'the answer contains no edit');
  assert.match(proposals[0]!.raw!, /it seems fine/);
});

test('an agent exiting non-zero gives an error with its exit code and first stderr lines', async () => {
  const [proposal] = await createCommandProposer(agent('failing-agent.js')).propose(context());
  assert.match(proposal!.error!, /^the agent exited with code 3: error: not logged in\nrun `agent login` first$/);
  assert.match(proposal!.raw!, /--- stderr ---\nerror: not logged in/);
});

test('an agent that hangs is stopped at the timeout, its child process too', async () => {
  const pidFile = join(scratch(), 'pids');
  const started = Date.now();
  const [proposal] = await createCommandProposer(agent('hanging-agent.js', [pidFile], { timeoutMs: 1500 })).propose(context());
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
  const proposing = createCommandProposer(agent('hanging-agent.js', [pidFile])).propose(context({ signal: controller.signal }));
  assert.ok(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(' '), 5000));
  const started = Date.now();
  controller.abort();
  assert.deepEqual(await proposing, []);
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  const pids = readFileSync(pidFile, 'utf8').split(' ').map(Number);
  assert.ok(await waitFor(() => !pids.some(isRunning), 2000), `still running: ${pids.filter(isRunning)}`);
});

test('several samples run the agent several times; candidates beyond the count are dropped', async () => {
  const two = await createCommandProposer(agent('diff-agent.js', [], { samples: 2 })).propose(context());
  assert.equal(two.length, 2);
  const ctx = context({ count: 2 });
  const three = await createCommandProposer(agent('diff-agent.js', [], { samples: 3 })).propose(ctx);
  assert.equal(three.length, 2);
  assert.ok(ctx.logs.some((l) => /1 candidate\(s\) beyond the 2 asked for were dropped/.test(l)), ctx.logs.join('\n'));
});

test('output beyond the cap is not read: the answer would be cut', async () => {
  const [proposal] = await createCommandProposer(agent('garbage-agent.js', [String(AGENT_OUTPUT_BYTES + 10)])).propose(context());
  assert.match(proposal!.error!, /printed more than \d+ bytes/);
});

test('an agent that is not installed stops the run with a message naming it', async () => {
  const config: CommandConfig = { kind: 'command', command: 'rsi-no-such-agent', args: [], timeoutMs: 5000, samples: 1 };
  await assert.rejects(createCommandProposer(config).propose(context()), (err: Error) => {
    assert.ok(err instanceof ProposerError);
    assert.match(err.message, /the agent "rsi-no-such-agent" was not found: is it installed and on the PATH\?/);
    return true;
  });
});
