/**
 * The local pool through the CLI: candidates of a deterministic metric evaluated side by side decide
 * what one slot decides, and the workspace's run lock still admits one run at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from '../processes';
import { CLI, makeWorkspace, readLessonLines, runCli } from './helpers';

const BACKTEST = path.resolve(__dirname, '../../examples/backtest');

/** A copy of examples/backtest with `evaluation` set, and a sandbox root of its own. */
async function backtest(evaluation: object): Promise<{ workspace: string; sandboxes: string }> {
  const workspace = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-pool-'));
  await fs.cp(BACKTEST, workspace, { recursive: true });
  const configFile = path.join(workspace, '.rsi', 'config.json');
  const config = JSON.parse(await fs.readFile(configFile, 'utf8'));
  await fs.writeFile(configFile, JSON.stringify({ ...config, seed: 7, evaluation }));
  return { workspace, sandboxes: await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-pool-sandboxes-')) };
}

/** What a lesson decided, whichever slot decided it and in whatever order. */
async function decisions(workspace: string): Promise<string[]> {
  const lessons = (await readLessonLines(workspace)).filter((l) => l.type !== 'verdict');
  return lessons.map((l) => JSON.stringify([l.cycle, l.outcome, l.patchHash, l.metric?.change ?? null])).sort();
}

test('rsi cycle on examples/backtest with 2 slots decides exactly what 1 slot decides, with the same seed', async () => {
  const [one, two] = await Promise.all([backtest({ slots: 1 }), backtest({ slots: 2 })]);
  const run = ({ workspace, sandboxes }: { workspace: string; sandboxes: string }) =>
    runCli(['cycle', '--cycles', '2', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: sandboxes } });
  const [ranOne, ranTwo] = await Promise.all([run(one), run(two)]);
  assert.equal(ranOne.code, 0, ranOne.stderr);
  assert.equal(ranTwo.code, 0, ranTwo.stderr);
  const expected = await decisions(one.workspace);
  assert.ok(expected.length >= 8, `two cycles of 4 candidates (${expected.length} lessons)`);
  assert.deepEqual(await decisions(two.workspace), expected);
  // The second slot did run: its sandbox pair is there beside slot 0's, and only in the 2-slot run.
  const pairs = async (sandboxes: string) => (await fs.readdir(path.join(sandboxes, (await fs.readdir(sandboxes))[0]!))).filter((name) => /^[ab]\d*$/.test(name)).sort();
  assert.deepEqual(await pairs(two.sandboxes), ['a', 'a1', 'b', 'b1']);
  assert.deepEqual(await pairs(one.sandboxes), ['a', 'b']);
  assert.equal(existsSync(path.join(two.workspace, '.rsi', 'run.lock')), false, 'the lock is released');
});

test('a second run on a workspace a 2-slot run holds is refused with one sentence', async () => {
  // The first run's baseline gate waits for the test's go-ahead, so the second certainly meets the lock.
  const go = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-pool-go-')), 'go');
  const workspace = await makeWorkspace({
    'params.js': 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n',
    'metric.js': "const { X } = require('./params');\nconsole.log(JSON.stringify({ score: -((X - 6) ** 2) }));\n",
    '.rsi/config.json': {
      metric: { name: 'score', command: 'node metric.js', read: { json: 'score' }, direction: 'maximize' },
      gate: [`while [ ! -f ${go} ]; do sleep 0.05; done`],
      targets: ['params.js'],
      candidates: 2,
      evaluation: { slots: 2 },
    },
  });
  const sandboxes = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-pool-sandboxes-'));
  const first = spawn(process.execPath, [CLI, 'cycle', '--workspace', workspace], { env: { ...process.env, RSI_SANDBOX_ROOT: sandboxes }, stdio: ['ignore', 'ignore', 'pipe'] });
  let firstErr = '';
  first.stderr.setEncoding('utf8').on('data', (d: string) => (firstErr += d));
  const firstExit = new Promise<number | null>((done) => first.once('exit', done));
  try {
    assert.ok(await waitFor(() => existsSync(path.join(workspace, '.rsi', 'run.lock')), 20_000), 'the first run took the lock');
    const second = await runCli(['cycle', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-pool-sandboxes-')) } });
    assert.equal(second.code, 1);
    assert.match(second.stderr, /^rsi: this workspace is in use by another RSI run \(runner pid \d+, started by pid \d+\): wait for it to end[^\n]*\n$/m);
    assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    await fs.writeFile(go, '');
  }
  assert.equal(await firstExit, 0, firstErr);
});
