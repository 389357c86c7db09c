import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRunning } from '../processes';
import { makeWorkspace, readLessonLines, runCli, snapshot } from './helpers';

/** A workspace whose score is deterministic and best at X = 6; X starts at 1. */
function fixture(overrides: { metric?: string; gate?: string[]; config?: object; files?: Record<string, string> } = {}) {
  return makeWorkspace({
    'params.js': 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n',
    'metric.js': overrides.metric ?? "const { X } = require('./params');\nconsole.log(JSON.stringify({ score: -((X - 6) ** 2) }));\n",
    '.rsi/config.json': {
      metric: { name: 'score', command: 'node metric.js', read: { json: 'score' }, direction: 'maximize' },
      gate: overrides.gate ?? [],
      targets: ['params.js'],
      candidates: 3,
      ...overrides.config,
    },
    ...overrides.files,
  });
}

async function cycle(workspace: string, ...args: string[]) {
  const sandboxes = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-sandboxes-'));
  return runCli(['cycle', '--json', '--workspace', workspace, ...args], { env: { RSI_SANDBOX_ROOT: sandboxes } });
}

test('a clear improvement is kept, shown as a pending proposal, and the user files stay byte-identical', async () => {
  const workspace = await fixture();
  const before = await snapshot(workspace);
  const result = await cycle(workspace);
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assert.ok(summary.outcomes.kept >= 1, JSON.stringify(summary.outcomes));
  assert.match(summary.proposal.patch, /^-const X = 1;/m);
  assert.deepEqual(await snapshot(workspace), before);

  const lessons = await readLessonLines(workspace);
  assert.equal(lessons.length, 3);
  const kept = lessons.find((l) => l.outcome === 'kept')!;
  assert.equal(kept.v, 1);
  assert.equal(kept.metric.baseline.median, -25);
  assert.ok(kept.metric.candidate.median > -25);
  assert.match(kept.patchHash, /^[0-9a-f]{16}$/);
  assert.deepEqual(kept.files, ['params.js']);
});

test('--auto-accept writes the winner, records the verdict, and the next cycle builds on it', async () => {
  const workspace = await fixture();
  const result = await cycle(workspace, '--auto-accept', '--cycles', '2');
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assert.ok(summary.applied.length >= 1);
  const text = await fs.readFile(path.join(workspace, 'params.js'), 'utf8');
  const value = Number(/const X = (\d+);/.exec(text)![1]);
  assert.notEqual(value, 1);
  // The second cycle measured the first one's winner as its baseline, and the file holds the last winner.
  assert.equal(summary.cycles[1].baseline.median, summary.cycles[0].winner.metric.candidate.median);
  assert.equal(0 - (value - 6) ** 2, summary.applied.at(-1).metric.candidate.median);
  const verdicts = (await readLessonLines(workspace)).filter((r) => r.type === 'verdict');
  assert.equal(verdicts.length, summary.applied.length);
  assert.ok(verdicts.every((v) => v.verdict === 'accepted'));
});

test('a candidate that breaks the gate is recorded as gate-failed with the first lines of its output', async () => {
  const workspace = await fixture({
    gate: ['node check.js'],
    files: { 'check.js': "const { X } = require('./params');\nif (X !== 1) { console.error('X must stay 1, got ' + X); process.exit(3); }\n" },
  });
  const result = await cycle(workspace);
  assert.equal(result.code, 0, result.stderr);
  const lessons = await readLessonLines(workspace);
  assert.ok(lessons.length > 0);
  for (const lesson of lessons) {
    assert.equal(lesson.outcome, 'gate-failed');
    assert.match(lesson.detail, /exited with code 3/);
    assert.match(lesson.detail, /X must stay 1, got \d/);
  }
});

test('a gate that fails on the unmodified workspace stops the cycle with a clear message', async () => {
  const workspace = await fixture({ gate: ['node -e "process.exit(1)"'] });
  const result = await cycle(workspace);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /the gate fails on the unmodified workspace/);
});

test('a hanging metric command times out and leaves no process of its tree behind', async () => {
  const pidFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-pids-')), 'pids');
  const workspace = await fixture({
    // The grandchild adds a little memory: this test is about the timeout, not the memory guard.
    config: { limits: { timeoutMs: 1500, memoryGrowth: 5 }, candidates: 1 },
    metric: [
      "const { X } = require('./params');",
      'if (X !== 1) {',
      "  const child = require('node:child_process').spawn('sleep', ['600'], { stdio: 'ignore' });",
      `  require('node:fs').appendFileSync(${JSON.stringify(pidFile)}, process.pid + ' ' + child.pid + '\\n');`,
      '  setInterval(() => {}, 1000);',
      "} else console.log(JSON.stringify({ score: 0 }));",
    ].join('\n'),
  });
  const result = await cycle(workspace);
  assert.equal(result.code, 0, result.stderr);
  const [lesson] = await readLessonLines(workspace);
  assert.equal(lesson.outcome, 'timeout');
  const pids = (await fs.readFile(pidFile, 'utf8')).trim().split(/\s+/).map(Number);
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.equal(isRunning(pid), false, `process ${pid} survived`);
});

test('a candidate that allocates far more memory than the baseline is killed as memory-exceeded', async () => {
  const workspace = await fixture({
    config: { candidates: 1 },
    metric: [
      "const { X } = require('./params');",
      'const hold = [];',
      'if (X !== 1) for (let i = 0; i < 40; i++) hold.push(Buffer.alloc(16 * 1024 * 1024, 1));',
      'setTimeout(() => console.log(JSON.stringify({ score: X + hold.length })), 300);',
    ].join('\n'),
  });
  const result = await cycle(workspace);
  assert.equal(result.code, 0, result.stderr);
  const [lesson] = await readLessonLines(workspace);
  assert.equal(lesson.outcome, 'memory-exceeded', lesson.detail);
  assert.match(lesson.detail, /exceeded the limit/);
});

test('a broken config exits 2 with a message naming the field', async () => {
  const workspace = await fixture({ config: { metric: { command: 'node metric.js', read: 'wallTime', direction: 'upward' } } });
  const result = await cycle(workspace);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /metric\.direction: must be one of "maximize", "minimize"/);

  await fs.writeFile(path.join(workspace, '.rsi/config.json'), '{"metric": {}, "targets": ["a"], "sampling": {"minRun": 4}}');
  const second = await cycle(workspace);
  assert.equal(second.code, 2);
  assert.match(second.stderr, /metric\.command: missing/);
  assert.match(second.stderr, /sampling\.minRun: unknown field/);
});

test('usage errors exit 2 and say what to fix', async () => {
  const result = await runCli(['cycle', '--cycles', 'zero']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--cycles must be a whole number/);
});

test('rsi lessons lists what was tried, and skips a torn last line', async () => {
  const workspace = await fixture();
  assert.equal((await cycle(workspace)).code, 0);
  await fs.appendFile(path.join(workspace, '.rsi/lessons.jsonl'), '{"v":1,"id":"torn');
  const result = await runCli(['lessons', '--json', '--workspace', workspace]);
  assert.equal(result.code, 0, result.stderr);
  const listed = JSON.parse(result.stdout);
  assert.equal(listed.lessons.length, 3);
  assert.deepEqual(listed.skippedLines, []);
});

test('co-winners of a cycle are combined and tried first in the next one, naming their parents', async () => {
  const workspace = await fixture({
    files: { 'params.js': 'const X = 1; // rsi: int 1..9\nconst Y = 1; // rsi: int 1..9\nmodule.exports = { X, Y };\n' },
    metric: "const { X, Y } = require('./params');\nconsole.log(JSON.stringify({ score: -((X - 6) ** 2) - (Y - 6) ** 2 }));\n",
    config: { candidates: 4, seed: 5 },
  });
  const result = await cycle(workspace, '--cycles', '2');
  assert.equal(result.code, 0, result.stderr);
  const lessons = (await readLessonLines(workspace)).filter((l) => l.type !== 'verdict');
  const first = lessons.filter((l) => l.cycle === 1 && l.outcome === 'kept');
  const movesX = first.filter((l) => l.params['params.js:Y'] === 1);
  const movesY = first.filter((l) => l.params['params.js:X'] === 1);
  assert.ok(movesX.length > 0 && movesY.length > 0, 'the seed keeps a move of each parameter in cycle 1');
  const combined = lessons.find((l) => l.cycle === 2)!;
  assert.equal(combined.parents.length, 2);
  assert.ok(combined.parents.every((id: string) => first.some((l) => l.id === id)));
  assert.match(combined.hypothesis, /^combines the kept /);
  assert.equal(combined.outcome, 'kept');
  // Its value set is recorded, so the tuner of a later cycle never proposes it again.
  assert.deepEqual(combined.params, { 'params.js:X': 3, 'params.js:Y': 3 });
});

test('noise.minEffect: a deterministic gain below it is no effect', async () => {
  // The best possible candidate (X = 6) gains 100%: under a minimum effect of 500%, nothing is kept.
  const workspace = await fixture({ config: { noise: { minEffect: 5 } } });
  const result = await cycle(workspace);
  assert.equal(result.code, 0, result.stderr);
  const lessons = await readLessonLines(workspace);
  assert.ok(lessons.every((l) => l.outcome !== 'kept'), JSON.stringify(lessons.map((l) => l.outcome)));
  assert.ok(lessons.some((l) => l.outcome === 'no-effect' && /minimum effect \(\+500\.00%\)/.test(l.detail)), JSON.stringify(lessons.map((l) => l.detail)));
});
