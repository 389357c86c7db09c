import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/core/config';
import { buildContext, contextPrompt, type ContextInput } from '../../src/core/context';
import type { Lesson, Outcome } from '../../src/core/lessons';
import { ANSWER_FORMAT } from '../../src/core/proposers/format';
import { history } from '../../src/runner/history';
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
    assert.match(text, /^Current baseline: \(no baseline measured yet\)\.$/m);
    assert.ok(text.includes(ANSWER_FORMAT), `the answer format is whole at ${budget}`);
  }
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
