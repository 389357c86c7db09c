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
  assert.match(lesson.detail, /exceeded the limit of [\d.]+ MiB \(the baseline.s peak plus limits\.memoryGrowth in \.rsi\/config\.json\)/);
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

test('targets that match no file, or hold no annotation for the tuner, fail before anything runs', async () => {
  const sandboxes = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-sandboxes-'));
  const run = (workspace: string) => runCli(['cycle', '--cycles', '3', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: sandboxes } });

  const noMatch = await fixture({ config: { targets: ['src/*.js'] } });
  const result = await run(noMatch);
  assert.equal(result.code, 2);
  assert.equal(result.stderr, 'rsi: invalid config: .rsi/config.json: targets: "src/*.js" matches no file in the workspace; give paths relative to it, e.g. "src/**/*.js"\n');

  const vendored = await run(await fixture({ config: { targets: ['node_modules/lib/*.js'] } }));
  assert.equal(vendored.code, 2);
  assert.match(vendored.stderr, /node_modules is never a target, so copy \(vendor\) the dependency into the workspace/);

  const bare = await fixture({ files: { 'params.js': 'const X = 1;\nmodule.exports = { X };\n' } });
  const unannotated = await run(bare);
  assert.equal(unannotated.code, 2);
  assert.match(unannotated.stderr, /^rsi: invalid config: \.rsi\/config\.json: targets: the tuner found no annotated constant in params\.js; annotate one/);
  // Nothing ran: no sandbox was built, no lesson written.
  assert.deepEqual(await fs.readdir(sandboxes), []);
  await assert.rejects(fs.access(path.join(bare, '.rsi/lessons.jsonl')));
});

test('cycles are numbered in order even when a cycle records no lesson', async () => {
  // X = 2 is the only other value, and it is worse: the tuner has nothing left to propose after cycle 1.
  const workspace = await fixture({ files: { 'params.js': 'const X = 1; // rsi: int 1..2\nmodule.exports = { X };\n' }, metric: "const { X } = require('./params');\nconsole.log(JSON.stringify({ score: -X }));\n" });
  const result = await cycle(workspace, '--cycles', '3');
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assert.deepEqual(summary.cycles.map((c: { cycle: number; lessons: unknown[] }) => [c.cycle, c.lessons.length]), [[1, 1], [2, 0], [3, 0]]);
});

test('rsi apply writes the pending proposal unless a file changed since; rsi reject drops it; both record verdicts', async () => {
  const workspace = await fixture();
  const first = await cycle(workspace, '--cycles', '2');
  assert.equal(first.code, 0, first.stderr);
  const summary = JSON.parse(first.stdout);
  const saved = JSON.parse(await fs.readFile(path.join(workspace, '.rsi/proposal.json'), 'utf8'));
  assert.deepEqual(saved.lessons, summary.proposal.lessons);
  assert.equal(saved.changes[0].before, 'const X = 1; // rsi: int 1..9\nmodule.exports = { X };\n');

  // rsi context states the baseline of the files on disk (X = 1), not cycle 2's, measured with cycle 1's winner.
  const context = async () => {
    const result = await runCli(['context', '--workspace', workspace], { env: { RSI_SANDBOX_ROOT: await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-sandboxes-')) } });
    assert.equal(result.code, 0, result.stderr);
    return /^Current baseline: (\S+?)[,.](?:\s|$)/m.exec(result.stdout)?.[1];
  };
  assert.notEqual(summary.cycles[1].baseline.median, -25);
  assert.equal(await context(), '-25');

  const params = path.join(workspace, 'params.js');
  const original = await fs.readFile(params, 'utf8');
  await fs.writeFile(params, original + '// edited\n');
  const stale = await runCli(['apply', '--workspace', workspace]);
  assert.equal(stale.code, 2);
  assert.equal(stale.stderr, 'rsi: the proposal no longer applies because params.js changed since it was made: `rsi reject` drops it and `rsi cycle` makes a new one\n');
  assert.equal(await fs.readFile(params, 'utf8'), original + '// edited\n');

  await fs.writeFile(params, original);
  const applied = await runCli(['apply', '--workspace', workspace]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(await fs.readFile(params, 'utf8'), saved.changes[0].after);
  await assert.rejects(fs.access(path.join(workspace, '.rsi/proposal.json')));
  const verdicts = (await readLessonLines(workspace)).filter((r) => r.type === 'verdict');
  assert.deepEqual(verdicts.map((v) => [v.lesson, v.verdict]), saved.lessons.map((id: string) => [id, 'accepted']));
  // The files now hold the last winner, whose own runs measured them.
  assert.equal(Number(await context()), summary.cycles.findLast((c: { winner?: unknown }) => c.winner).winner.metric.candidate.median);

  const other = await fixture();
  const second = await cycle(other);
  assert.equal(second.code, 0, second.stderr);
  const pending = JSON.parse(second.stdout).proposal;
  const before = await snapshot(other);
  const rejected = await runCli(['reject', '--workspace', other]);
  assert.equal(rejected.code, 0, rejected.stderr);
  assert.deepEqual(await snapshot(other), before);
  const rejections = (await readLessonLines(other)).filter((r) => r.type === 'verdict');
  assert.deepEqual(rejections.map((v) => [v.lesson, v.verdict]), pending.lessons.map((id: string) => [id, 'rejected']));
  const nothing = await runCli(['reject', '--workspace', other]);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /^rsi: there is no pending proposal/);
});

test('rsi params lists the parameters with their ranges and scales, and the targets with none, running nothing', async () => {
  const workspace = await fixture({
    config: { targets: ['*.js'] },
    files: { 'rates.js': 'let rate = 0.01; // rsi: 0.0001..1\nvar depth = 3 // rsi: 1..5\n' },
  });
  const result = await runCli(['params', '--workspace', workspace]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    [
      'params.js:1  X = 1  int 1..9, linear scale',
      'rates.js:1  rate = 0.01  0.0001..1, log scale',
      'rates.js:2  depth = 3  1..5, linear scale',
      '',
      'target files with no parameter: metric.js',
      '',
    ].join('\n'),
  );
  const json = JSON.parse((await runCli(['params', '--json', '--workspace', workspace])).stdout);
  assert.deepEqual(json.filesWithout, ['metric.js']);
  assert.equal(json.params[1].scale, 'log');
  await assert.rejects(fs.access(path.join(workspace, '.rsi/lessons.jsonl')));
});

test('a config that is not valid JSON gives its line and column', async () => {
  const workspace = await fixture();
  await fs.writeFile(path.join(workspace, '.rsi/config.json'), '{\n  "targets": ["params.js"]\n  "gate": []\n}\n');
  const result = await runCli(['cycle', '--workspace', workspace]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^rsi: invalid config: \S+\/\.rsi\/config\.json: not valid JSON at line 3, column 3: expected ',' or '}' after property value\n$/);
});

test('an unknown option gets the usage and the nearest option; --version prints the version', async () => {
  const typo = await runCli(['cycle', '--cycle', '3']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^rsi: unknown option --cycle \(did you mean --cycles\?\)\nusage:\n/);
  const missing = await runCli(['cycle', '--cycles']);
  assert.match(missing.stderr, /^rsi: --cycles needs a value\n/);
  const command = await runCli(['aply']);
  assert.match(command.stderr, /^rsi: unknown command: aply \(did you mean apply\?\)/);
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  const { version: expected } = JSON.parse(await fs.readFile(path.resolve(__dirname, '../../package.json'), 'utf8'));
  assert.equal(version.stdout, `${expected}\n`);
});

test('the runner\'s and the engine\'s housekeeping stay out of the output unless asked for with --verbose or RSI_DEBUG', async () => {
  // A preload that only the forked runner (it has an IPC channel) runs: a stand-in for its restart notices.
  const preload = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-preload-')), 'chatter.js');
  await fs.writeFile(preload, "if (process.send) process.stderr.write('runner chatter\\n');\n");
  const workspace = await fixture({ config: { candidates: 1 } });
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['cycle', '--workspace', workspace, ...args], { env: { RSI_SANDBOX_ROOT: await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-sandboxes-')), NODE_OPTIONS: `--require ${preload}`, ...env } });
  const quiet = await run([]);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /runner chatter|sandboxes ready/);
  assert.match(quiet.stderr, /^\[cycle 1\] measuring the baseline/m);
  const verbose = (await run(['--verbose'])).stderr;
  assert.match(verbose, /^\[debug\] \[runner\] runner chatter$/m);
  assert.match(verbose, /^\[debug\] sandboxes ready in \d+ ms/m);
  assert.match((await run([], { RSI_DEBUG: '1' })).stderr, /^\[debug\] \[runner\] runner chatter$/m);
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
  // Lessons are recorded as they are decided: an invalid or duplicate proposal needs no run, so it
  // may come first; the first one measured is the combination.
  const combined = lessons.find((l) => l.cycle === 2 && l.metric)!;
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
  assert.ok(lessons.some((l) => l.outcome === 'no-effect' && /minimum effect \(500\.00%\)/.test(l.detail)), JSON.stringify(lessons.map((l) => l.detail)));
});

test('a candidate that wins on the metric but worsens a guard is guard-failed, with the guard\'s evidence', async () => {
  // The score rises toward X = 6; the held-out score drops from 10 to 5 from X = 3 on, and its command crashes from X = 7 on.
  const guard = "const { X } = require('./params');\nif (X >= 7) process.exit(2);\nconsole.log(JSON.stringify({ heldOut: X >= 3 ? 5 : 10 }));\n";
  const config = { guards: [{ name: 'held-out', command: 'node guard.js', read: { json: 'heldOut' }, direction: 'maximize', tolerance: 0.1 }], candidates: 4 };
  const workspace = await fixture({ files: { 'guard.js': guard }, config });
  const result = await cycle(workspace);
  assert.equal(result.code, 0, result.stderr);
  const lessons = await readLessonLines(workspace);
  const failed = lessons.filter((l) => l.outcome === 'guard-failed');
  assert.ok(failed.length > 0, JSON.stringify(lessons.map((l) => [l.params, l.outcome])));
  for (const l of failed) {
    assert.ok(l.params['params.js:X'] >= 3 && l.metric.change > 0, 'better on the metric');
    const [g] = l.guards;
    assert.deepEqual([g.name, g.passed, g.tolerance, g.direction, g.baseline.median, g.candidate.median, g.change], ['held-out', false, 0.1, 'maximize', 10, 5, -0.5]);
    assert.deepEqual(g.ci, [-0.5, -0.5]);
    assert.equal(g.runs.baseline.length, g.runs.candidate.length);
    assert.match(l.detail, /^guard "held-out" worse beyond its 10\.00% tolerance: -50\.00% held-out/);
  }
  for (const l of lessons.filter((l) => l.outcome === 'kept')) assert.deepEqual(l.guards.map((g: { passed: boolean }) => g.passed), [true]);
  for (const l of lessons.filter((l) => l.outcome === 'crashed')) assert.match(l.detail, /^guard "held-out": metric command exited with code 2/);
  const summary = JSON.parse(result.stdout);
  assert.ok(summary.outcomes['guard-failed'] > 0);
  const listed = await runCli(['lessons', '--workspace', workspace]);
  assert.match(listed.stdout, /guard-failed: \+\d+\.\d+% score .*; but guard "held-out" worse beyond its 10\.00% tolerance/);
  assert.match(listed.stdout, /\n {4}guard held-out worse beyond its tolerance: -50\.00% \(95% CI -50\.00% to -50\.00%\), \d+ runs a side, tolerance 10\.00%\n/);
});

test('a guard that fails on the unmodified workspace stops the run before any candidate, saying which', async () => {
  const config = { guards: [{ name: 'p99', command: 'node -e "process.exit(3)"', read: 'wallTime', direction: 'minimize' }] };
  const workspace = await fixture({ config });
  const result = await cycle(workspace);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^rsi: guard "p99" fails on the unmodified workspace: the baseline metric command exited with code 3; check its command and read in the guards of \.rsi\/config\.json\n$/m);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  await assert.rejects(fs.readFile(path.join(workspace, '.rsi/lessons.jsonl')), 'no candidate ran');
});

test('rsi calibrate off a terminal: one progress line at each quarter, none repeated', async () => {
  const ws = await makeWorkspace({ '.rsi/config.json': { metric: { command: 'node -e "for (let i = 0; i < 2e5; i++);"', read: 'cpuTime', direction: 'minimize' }, targets: ['a.js'], noise: { calibrationRuns: 8 } }, 'a.js': '' });
  const r = await runCli(['calibrate', '--workspace', ws]);
  assert.equal(r.code, 0, r.stderr);
  const progress = r.stderr.split('\n').filter((l) => /A\/A pair \d+ of 8/.test(l)).map((l) => l.trim());
  assert.deepEqual(progress, ['A/A pair 0 of 8', 'A/A pair 2 of 8', 'A/A pair 4 of 8', 'A/A pair 6 of 8', 'A/A pair 8 of 8']);
});
