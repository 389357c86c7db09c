import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfig, type RsiConfig } from '../../src/core/config';
import { buildContext, contextPrompt, type ContextInput } from '../../src/core/context';
import type { Lesson, Outcome } from '../../src/core/lessons';
import { findMeasuringFiles } from '../../src/core/measuringCode';
import { unifiedDiff, validateProposal } from '../../src/core/patch';
import { ANSWER_FORMAT } from '../../src/core/proposers/format';
import { history } from '../../src/runner/history';
import { profile } from '../../src/runner/profile';
import type { ProfileResult } from '../../src/protocol/runner';
import { commit, newRepo, tempDir } from '../gitRepo';

let next = 0;
function lesson(outcome: Outcome, hypothesis: string, fields: Partial<Lesson> = {}): Lesson {
  next++;
  return {
    v: 1,
    id: `l${next}`,
    time: new Date(Date.UTC(2025, 0, 1, 0, next)).toISOString(),
    cycle: Math.ceil(next / 4),
    proposer: 'command',
    hypothesis,
    files: ['src/parser.js'],
    patch: '',
    patchHash: `h${next}`,
    outcome,
    durationMs: 100,
    ...fields,
  };
}

function measured(change: number): Lesson['metric'] {
  return { name: 'throughput', direction: 'maximize', baseline: { median: 1200, n: 5 }, candidate: { median: 1200 * (1 + change), n: 5 }, change, ci: [change - 0.01, change + 0.01], p: 0.001 };
}

const GATE_FAILURE = "`node --test` exited with code 1\nTAP version 13\nnot ok 3 - ordering\n  error: 'fast >= slow'";

const lessons: Lesson[] = [
  lesson('kept', 'inline the tokenizer loop', {
    metric: measured(0.041),
    patch: '--- a/src/parser.js\n+++ b/src/parser.js\n@@ -1,1 +1,1 @@\n-for (const c of text) tokens.push(c);\n+tokenize(text, tokens);\n',
  }),
  lesson('kept', 'cache parse results globally', { id: 'rejected-one', metric: measured(0.03) }),
  ...Array.from({ length: 5 }, (_, i) => lesson('gate-failed', `swap the window sizes, variant ${i}`, { detail: GATE_FAILURE })),
  lesson('regressed', 'unroll the engine loop', { files: ['src/engine.js'], metric: measured(-0.02) }),
  lesson('no-effect', 'reorder the switch cases', { metric: measured(0.001) }),
  lesson('crashed', 'drop the bounds check', { detail: 'metric command exited with code 134\nRangeError: offset out of range' }),
];
const verdicts = new Map([['rejected-one', 'rejected' as const]]);

/** A repository with a long-untouched file, a fix-prone one and an active one, dated by the test. */
function historyRepo(sizes = { parser: 200, engine: 200, legacy: 200 }): string {
  const repo = newRepo();
  const text = (name: string, n: number, version: number) => `// ${name} v${version}\n` + `const line = ${version};\n`.repeat(Math.ceil(n / 18));
  commit(repo, 'add legacy helpers', { 'lib/legacy.js': text('legacy', sizes.legacy, 1) }, 400);
  commit(repo, 'add parser and engine', { 'src/parser.js': text('parser', sizes.parser, 1), 'src/engine.js': text('engine', sizes.engine, 1) }, 200);
  commit(repo, 'fix: off-by-one in the parser', { 'src/parser.js': text('parser', sizes.parser, 2) }, 100);
  commit(repo, 'Revert "speed up the parser"', { 'src/parser.js': text('parser', sizes.parser, 3) }, 50);
  commit(repo, 'parser: accept empty input', { 'src/parser.js': text('parser', sizes.parser, 4) }, 40);
  for (const [i, days] of [20, 10, 3].entries()) commit(repo, `engine step ${i}`, { 'src/engine.js': text('engine', sizes.engine, i + 2) }, days);
  commit(repo, 'hotfix parser crash on a BOM', { 'src/parser.js': text('parser', sizes.parser, 5) }, 5);
  commit(repo, 'engine: batch the writes', { 'src/engine.js': text('engine', sizes.engine, 9) }, 1);
  writeFileSync(join(repo, 'CONTRIBUTING.md'), 'Keep functions pure; no new dependencies.\n');
  return repo;
}

function config(budgetChars = 60_000) {
  return parseConfig(
    JSON.stringify({
      metric: { name: 'throughput', command: 'node bench.js', read: { json: 'ops' }, direction: 'maximize' },
      gate: ['node --test'],
      targets: ['src/**', 'lib/**'],
      context: { budgetChars, conventions: 'CONTRIBUTING.md' },
    }),
  );
}

async function prompt(repo: string, budgetChars?: number, logs: string[] = []): Promise<string> {
  const storageRoot = tempDir('rsi-storage-');
  return contextPrompt({
    workspace: repo,
    config: config(budgetChars),
    targetFiles: ['lib/legacy.js', 'src/engine.js', 'src/parser.js'],
    readFile: async (rel) => (await import('node:fs/promises')).readFile(join(repo, rel), 'utf8'),
    lessons,
    verdicts,
    baseline: { median: 1200, n: 5, values: [1190, 1195, 1200, 1210, 1230], deterministic: false },
    noiseFloor: 0.025,
    history: (paths) => history({ workspace: repo, storageRoot, commits: 300, paths }, new AbortController().signal),
    log: (message) => logs.push(message),
  });
}

test('the goal, the git insight, the lessons digest and the conventions appear', async () => {
  const logs: string[] = [];
  const text = await prompt(historyRepo(), undefined, logs);
  const expected = [
    /^## Goal\nMake the metric `throughput` higher \(maximize\)\. It is read from the output of `node bench\.js`/,
    /^Current baseline: 1200, the median of 5 runs: 1190, 1195, 1200, 1210, 1230\.$/m,
    /^Noise floor: 2\.50%\./m,
    /^A candidate is measured only if these commands pass first: `node --test`\.$/m,
    /^## Conventions of this workspace \(CONTRIBUTING\.md\)\nKeep functions pure; no new dependencies\.$/m,
    /^Stable \(rarely changed, long untouched\): leave alone unless needed:\n- lib\/legacy\.js: 1 commit, untouched for 400 days$/m,
    /^- src\/parser\.js: 3 of its 5 commits were fixes or reverts$/m,
    /^Active \(changed recently or often\):\n- src\/engine\.js: 5 commits, last changed yesterday, first seen 200 days ago$/m,
    /^- the user rejected: "cache parse results globally" in src\/parser\.js \(measured \+3\.00%\)$/m,
    /^- \+4\.10% "inline the tokenizer loop" in src\/parser\.js\n {4}-for \(const c of text\) tokens\.push\(c\);\n {4}\+tokenize\(text, tokens\);$/m,
    /^- -2\.00% "unroll the engine loop" in src\/engine\.js$/m,
    /^- 5 candidates failed the gate \(`node --test` exited with code 1: error: 'fast >= slow'\); e\.g\. "swap the window sizes, variant 4"/m,
    /^- crashed: "drop the bounds check" \(metric command exited with code 134: RangeError: offset out of range\)$/m,
    /^- "reorder the switch cases" in src\/parser\.js$/m,
  ];
  for (const pattern of expected) assert.match(text, pattern);
  assert.ok(!/^- \+3\.00% "cache parse results globally"/m.test(text), 'a rejected lesson is not listed as kept');
  assert.equal((text.match(/variant/g) ?? []).length, 3, 'the repeated failure is one line with three examples');
  assert.ok(text.trimEnd().endsWith(ANSWER_FORMAT.trimEnd()), 'the answer format closes the prompt');
  // Most relevant first: the file with a kept lesson, then the most recently changed.
  const order = ['### src/parser.js', '### src/engine.js', '### lib/legacy.js'].map((h) => text.indexOf(h));
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.ok(order[0]! > 0);
  assert.match(logs.join('\n'), /git history: 10 commits, 10 indexed now/);
});

test('the budget is respected and the most relevant file is kept', async () => {
  const repo = historyRepo({ parser: 8_000, engine: 20_000, legacy: 3_000 });
  const text = await prompt(repo, 6_000);
  assert.ok(text.length <= 6_000, `${text.length} characters`);
  assert.match(text, /^### src\/parser\.js\n```\n\/\/ parser v5\n/m);
  assert.match(text, /^\[src\/parser\.js is cut here: the first \d+ of \d+ characters are shown\]$/m);
  assert.match(text, /^\(not shown for lack of space: src\/engine\.js, lib\/legacy\.js\)$/m);
  assert.match(text, /the user rejected: "cache parse results globally"/, 'the strongest lesson stays');
  assert.ok(text.includes(ANSWER_FORMAT));

  const roomy = await prompt(repo, 60_000);
  for (const file of ['src/parser.js', 'src/engine.js', 'lib/legacy.js']) assert.match(roomy, new RegExp(`^### ${file}\\n`, 'm'));
  assert.doesNotMatch(roomy, /is cut here|not shown/);
});

test('any budget from the schema minimum up is respected', () => {
  const input: ContextInput = {
    metric: { name: 'ms', direction: 'minimize', command: 'node bench.js' },
    gate: [],
    files: [{ path: 'a.js', content: 'x\n'.repeat(5_000) }, { path: 'b.js', content: 'y`'.repeat(3_000) }],
    lessons: Array.from({ length: 60 }, (_, i) => lesson(i % 3 ? 'no-effect' : 'regressed', `try ${i}`, { metric: measured(0.01) })),
    verdicts: new Map(),
    conventions: { path: 'STYLE.md', text: 'rule\n'.repeat(2_000) },
    answerFormat: ANSWER_FORMAT,
    budgetChars: 0,
  };
  for (let budget = 2_000; budget <= 40_000; budget += 1_300) {
    const text = buildContext({ ...input, budgetChars: budget });
    assert.ok(text.length <= budget, `${text.length} > ${budget}`);
    assert.match(text, /^## Goal\nMake the metric `ms` lower \(minimize\)/);
    assert.match(text, /^Current baseline: \(none measured on the files as they are now\)\.$/m);
    assert.ok(text.includes(ANSWER_FORMAT), `the answer format is whole at ${budget}`);
  }
});

/** The preload as the runner uses it: built by `node esbuild.mjs`. */
const PRELOAD = resolve(__dirname, '../../dist/profile-preload.js');

function workspace(files: Record<string, string>): string {
  const dir = tempDir('rsi-ctx-');
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

function workspaceConfig(fields: object): RsiConfig {
  return parseConfig(JSON.stringify({ metric: { command: 'node bench.js', read: 'wallTime', direction: 'minimize' }, targets: ['work.js'], ...fields }));
}

/** contextPrompt on a workspace, profiling in the workspace itself (a test has no sandbox). */
async function profiledPrompt(dir: string, config: RsiConfig, lessonList: Lesson[] = []): Promise<string> {
  assert.ok(existsSync(PRELOAD), 'run `node esbuild.mjs` first: the profile needs dist/profile-preload.js');
  const storageRoot = tempDir('rsi-storage-');
  return contextPrompt({
    workspace: dir,
    config,
    targetFiles: config.targets,
    readFile: async (rel) => readFileSync(join(dir, rel), 'utf8'),
    lessons: lessonList,
    verdicts: new Map(),
    history: async () => ({ files: [], commits: 0, indexedNow: 0, ms: 0 }),
    profile: (key) => profile({ workspace: dir, storageRoot, base: {}, metric: { command: config.metric.command, read: 'wallTime', timeoutMs: 60_000, outputBytes: 65_536 }, key }, async () => dir, new AbortController().signal, () => {}, PRELOAD),
    log: () => {},
  });
}

// The decoy reads as the slow one (three nested loops over its input) but runs once on 2 items;
// the hot one reads as harmless and takes the run's time.
const HOT_AND_DECOY = `'use strict';
/** Cubic in n: looks like the place to optimize. */
function decoy(items) {
  let pairs = 0;
  for (const a of items) for (const b of items) for (const c of items) if (a + b === c) pairs++;
  return pairs;
}

function checksum(n) {
  let h = 0;
  for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + (i % 7)) | 0;
  return h;
}

module.exports = { decoy, checksum };
`;
const HOT_BENCH = "const { decoy, checksum } = require('./work.js');\nlet x = decoy([1, 2]);\nfor (let r = 0; r < 40; r++) x += checksum(2_000_000);\nconsole.log(x);\n";

test('the profile names the hot function of a target file first, not the decoy that looks slow', async () => {
  const dir = workspace({ 'work.js': HOT_AND_DECOY, 'bench.js': HOT_BENCH });
  const text = await profiledPrompt(dir, workspaceConfig({}));
  const section = /^## Where the time goes: CPU profile of one baseline run \(\d+ ms busy in 1 Node process;.*\nIn the target files, hottest first:\n- (\w+) \(work\.js:(\d+)\): [\d.]+% self, hottest lines (\d+)/m.exec(text);
  assert.ok(section, text);
  assert.deepEqual([section[1], section[2]], ['checksum', '9']);
  assert.match(section[3]!, /^1[01]$/, 'the loop of checksum is its hottest line');
  assert.ok(!/^- decoy /m.test(text) || text.indexOf('- decoy ') > text.indexOf('- checksum '), 'the decoy is never named before the hot function');
  assert.match(text, /^### work\.js\nHottest lines \(share of the profiled busy time\):\n- line 1[01], [\d.]+%: `for \(let i = 0; i < n; i\+\+\)/m);
  assert.match(text, /^### bench\.js \(run by the metric command `node bench\.js`\)\n```\nconst \{ decoy, checksum \}/m);
});

test('a metric run through npm is profiled in each of its Node processes', async () => {
  const dir = workspace({ 'work.js': HOT_AND_DECOY, 'bench.js': HOT_BENCH, 'package.json': JSON.stringify({ scripts: { bench: 'node bench.js' } }) });
  const text = await profiledPrompt(dir, workspaceConfig({ metric: { command: 'npm run bench', read: 'wallTime', direction: 'minimize' } }));
  assert.match(text, /^## Where the time goes: CPU profile of one baseline run \(\d+ ms busy in 2 Node processes: (\S*npm\S* \d+ ms, bench\.js \d+ ms|bench\.js \d+ ms, \S*npm\S* \d+ ms);.*\nIn the target files, hottest first:\n- checksum \(work\.js:9\)/m);
  assert.match(text, /^### bench\.js \(run by the metric command `npm run bench`\)$/m);
});

test('a profile that cannot be taken is one line of the context', async () => {
  const cases: [string, RegExp][] = [
    ['true', /^## Where the time goes: no CPU profile of the baseline: the metric command started no Node\.js process \(only Node is profiled\)$/m],
    ['node -e "process.exit(3)"', /^## Where the time goes: no CPU profile of the baseline: the profiled run exited with code 3$/m],
  ];
  for (const [command, expected] of cases) {
    const dir = workspace({ 'work.js': 'module.exports = 1;\n' });
    const text = await profiledPrompt(dir, workspaceConfig({ metric: { command, read: 'wallTime', direction: 'minimize' } }));
    assert.match(text, expected);
    assert.match(text, /^## Target files/m, 'the rest of the context is there');
  }
});

test('a profile is taken once per baseline content', async () => {
  const dir = workspace({ 'work.js': 'module.exports = 1;\n', 'bench.js': "require('fs').appendFileSync('runs', 'x');\n" });
  const storageRoot = tempDir('rsi-storage-');
  const metric = { command: 'node bench.js', read: 'wallTime' as const, timeoutMs: 60_000, outputBytes: 65_536 };
  const logs: string[] = [];
  const run = (key: string) => profile({ workspace: dir, storageRoot, base: {}, metric, key }, async () => dir, new AbortController().signal, (e) => e.kind === 'log' && logs.push(e.message), PRELOAD);
  const first = await run('k1');
  const again = await run('k1');
  await run('k2');
  assert.equal(first.cached, false);
  assert.equal(again.cached, true);
  assert.deepEqual(again, { ...first, cached: true });
  assert.equal(readFileSync(join(dir, 'runs'), 'utf8'), 'xx', 'one run per key');
  assert.equal(logs.length, 2, 'each profiled run says so');
});

test('the lessons and the profile point at the same functions', () => {
  const work = HOT_AND_DECOY;
  const edited = work.replace('h = (Math.imul(h, 31) + (i % 7)) | 0;', 'h = (h * 31 + (i % 7)) | 0;');
  const profiled: ProfileResult = {
    ok: true,
    busyMs: 1000,
    processes: [{ script: 'bench.js', busyMs: 1000 }],
    wallMs: 1100,
    cached: false,
    functions: [
      { name: 'checksum', file: 'work.js', line: 9, selfMs: 800, lines: [[11, 700], [10, 100]] },
      { name: '(top level)', file: 'bench.js', line: 1, selfMs: 150, lines: [] },
      { name: 'decoy', file: 'work.js', line: 3, selfMs: 1, lines: [[5, 1]] },
    ],
  };
  const text = buildContext({
    metric: { name: 'ms', direction: 'minimize', command: 'node bench.js' },
    gate: [],
    files: [{ path: 'work.js', content: work }],
    profile: profiled,
    lessons: [lesson('regressed', 'multiply without imul', { files: ['work.js'], patch: unifiedDiff([{ path: 'work.js', before: work, after: edited }]), metric: measured(-0.05) })],
    verdicts: new Map(),
    answerFormat: ANSWER_FORMAT,
    budgetChars: 60_000,
  });
  assert.match(text, /^- checksum \(work\.js:9\): 80\.0% self, hottest lines 11 \(70\.0%\), 10 \(10\.0%\); tried here: 1 regressed$/m);
  assert.match(text, /^- -5\.00% "multiply without imul" in work\.js \(checksum\)$/m);
  assert.match(text, /^- decoy \(work\.js:3\): 0\.1% self, hottest lines 5 \(0\.1%\)$/m, 'the decoy is listed after, untried');
});

test('the hottest target file is listed first', () => {
  const text = buildContext({
    metric: { name: 'ms', direction: 'minimize', command: 'node bench.js' },
    gate: [],
    files: ['a.js', 'b.js', 'c.js'].map((p) => ({ path: p, content: `// ${p}\n` })),
    profile: { ok: true, busyMs: 100, processes: [{ script: 'bench.js', busyMs: 100 }], wallMs: 120, cached: true, functions: [{ name: 'f', file: 'c.js', line: 1, selfMs: 60, lines: [] }, { name: 'g', file: 'b.js', line: 1, selfMs: 5, lines: [] }] },
    lessons: [],
    verdicts: new Map(),
    answerFormat: ANSWER_FORMAT,
    budgetChars: 60_000,
  });
  const order = ['### c.js', '### b.js', '### a.js'].map((h) => text.indexOf(h));
  assert.ok(order[0]! > 0);
  assert.deepEqual([...order].sort((a, b) => a - b), order);
});

test('the measuring code is found from the commands, through package.json, and from context.include', async () => {
  const dir = workspace({
    'work.js': '',
    'bench/run.js': '',
    'bench/inputs.json': '{}',
    'test/a.test.js': '',
    'test/b.test.js': '',
    'scripts/check.sh': '',
    'node_modules/x/index.js': '',
    'package.json': JSON.stringify({ scripts: { bench: 'BENCH=1 node bench/run.js --size=small', pretty: 'prettier .', check: 'sh ./scripts/check.sh && npm run pretty' } }),
  });
  const config = workspaceConfig({
    metric: { command: 'npm run bench', read: 'wallTime', direction: 'minimize' },
    gate: ['node --test test/', 'npm run check', 'node node_modules/x/index.js', 'node work.js'],
    context: { include: ['bench/*.json'] },
  });
  assert.deepEqual(await findMeasuringFiles(dir, config), [
    { path: 'bench/run.js', why: 'run by the metric command `npm run bench`' },
    { path: 'test/a.test.js', why: 'run by the gate command `node --test test/`' },
    { path: 'test/b.test.js', why: 'run by the gate command `node --test test/`' },
    { path: 'scripts/check.sh', why: 'run by the gate command `npm run check`' },
    { path: 'work.js', why: 'run by the gate command `node work.js`' },
    { path: 'bench/inputs.json', why: 'named by context.include' },
  ]);
  const bare = workspace({ 'work.js': '', 'lib/x.test.mjs': '', 'test/deep/y.js': '', 'other.js': '' });
  const found = await findMeasuringFiles(bare, workspaceConfig({ gate: ['node --test'] }));
  assert.deepEqual(found.map((f) => f.path), ['lib/x.test.mjs', 'test/deep/y.js'], "node --test alone runs Node's default test files");
});

test('the measuring code comes after the target files within the budget, and a change to it is refused', async () => {
  const dir = workspace({ 'work.js': 'const a = 1;\n'.repeat(300), 'bench.js': '// bench\n'.repeat(400) });
  const config = workspaceConfig({ gate: ['node work.js'], protected: ['bench.js'], context: { budgetChars: 6_000 } });
  const logs: string[] = [];
  const text = await contextPrompt({
    workspace: dir,
    config,
    targetFiles: ['work.js'],
    readFile: async (rel) => readFileSync(join(dir, rel), 'utf8'),
    lessons: [],
    verdicts: new Map(),
    history: async () => ({ files: [], commits: 0, indexedNow: 0, ms: 0 }),
    log: (message) => logs.push(message),
  });
  assert.ok(text.length <= 6_000);
  assert.deepEqual(logs, ['work.js is run by the gate command `node work.js` and matches the targets: a candidate may change what measures it; add it to "protected" in .rsi/config.json']);
  assert.doesNotMatch(text, /^### work\.js \(/m, 'a target is listed as a target only');
  assert.match(text, /^### work\.js\n```\nconst a = 1;/m);
  assert.ok(text.indexOf('## Measuring code') > text.indexOf('### work.js'));
  assert.match(text, /^\[bench\.js is cut here: the first \d+ of 3600 characters are shown\]$/m);

  for (const protectedGlobs of [['bench.js'], []]) {
    const validation = await validateProposal(
      { hypothesis: 'fewer repetitions', edits: [{ kind: 'replace', path: 'bench.js', search: '// bench\n', replace: '' }] },
      { workspace: dir, targets: config.targets, protected: protectedGlobs, readBase: async (rel) => readFileSync(join(dir, rel), 'utf8') },
    );
    assert.equal(validation.ok, false);
    assert.match(validation.ok ? '' : validation.reason, protectedGlobs.length > 0 ? /^bench\.js is protected$/ : /^bench\.js is not in the targets/);
  }
});

test('the search state: parameters and files at rest, and the combinations tried', () => {
  const strategy = 'module.exports = {\n  fast: 3, // rsi: int 2..50\n  slow: 9, // rsi: int 5..200\n};\n';
  const params = { 'strategy.js:fast': 3, 'strategy.js:slow': 9 };
  const tuned = (outcome: Outcome, to: number, fields: Partial<Lesson> = {}) =>
    lesson(outcome, `fast 3 -> ${to} (strategy.js): step`, { proposer: 'tuner', files: ['strategy.js'], params: { ...params, 'strategy.js:fast': to }, ...fields });
  const input: ContextInput = {
    metric: { name: 'sharpe', direction: 'maximize', command: 'node backtest.js' },
    gate: [],
    files: [{ path: 'strategy.js', content: strategy }],
    lessons: [
      // A kept change by another proposer comes first: what the tuner learned after it holds.
      lesson('kept', 'combines the kept aaaa + bbbb: slow 9 -> 12 (strategy.js)', { files: ['strategy.js'], parents: ['aaaa', 'bbbb'], metric: measured(0.03) }),
      tuned('regressed', 4, { metric: measured(-0.05) }),
      tuned('regressed', 2, { metric: measured(-0.04) }),
      tuned('no-effect', 5),
      ...[1, 2, 3].map((i) => lesson('regressed', `rewrite the loop ${i}`, { files: ['strategy.js'], metric: measured(-0.01) })),
    ],
    verdicts: new Map(),
    answerFormat: ANSWER_FORMAT,
    budgetChars: 60_000,
  };
  const text = buildContext(input);
  assert.match(text, /^At rest .*try elsewhere\.\n- fast = 3 in strategy\.js:2: regressed both ways\n- strategy\.js: the last 6 candidates since its last kept change did not help \(5 regressed, 1 no-effect\)$/m);
  assert.match(text, /^Combinations of kept candidates tried, newest first:\n- kept \+3\.00%: "combines the kept aaaa \+ bbbb: slow 9 -> 12 \(strategy\.js\)" \(2 kept candidates of one cycle together\)$/m);
});

test("a deterministic baseline reads the same from a cycle's runs and from a lesson's", () => {
  const input: ContextInput = {
    metric: { name: 'score', direction: 'maximize', command: 'node score.js' },
    gate: [],
    files: [],
    lessons: [],
    verdicts: new Map(),
    answerFormat: ANSWER_FORMAT,
    budgetChars: 10_000,
  };
  const fromCycle = buildContext({ ...input, baseline: { median: 2, n: 2, values: [2, 2], deterministic: true } });
  const fromLesson = buildContext({ ...input, baseline: { median: 2, n: 1, deterministic: true } });
  assert.equal(fromCycle, fromLesson);
  assert.match(fromCycle, /^Current baseline: 2\.\nThe metric is deterministic/m);
});
