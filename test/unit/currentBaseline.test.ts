import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentBaseline } from '../../src/core/currentBaseline';
import { parseLessons, type Lesson, type LessonRecord, type Outcome } from '../../src/core/lessons';
import { hashChanges, unifiedDiff } from '../../src/core/patch';

// The score is -(X - 6)^2: each lesson moves X and records both sides' medians.
const file = (x: number) => `const X = ${x};\nmodule.exports = { X };\n`;
const score = (x: number) => -((x - 6) ** 2);

function move(id: string, cycle: number, from: number, to: number, outcome: Outcome, baseWinners?: string[]): Lesson {
  const changes = [{ path: 'params.js', before: file(from), after: file(to) }];
  const change = (score(to) - score(from)) / Math.abs(score(from) || 1);
  return {
    v: 1, id, time: '2025-01-01T00:00:00.000Z', cycle, proposer: 'tuner', hypothesis: `X ${from} -> ${to} (params.js)`,
    files: ['params.js'], patch: unifiedDiff(changes), patchHash: hashChanges(changes), outcome, durationMs: 1,
    metric: { name: 'score', direction: 'maximize', baseline: { median: score(from), n: 1 }, candidate: { median: score(to), n: 1 }, change, ci: [change, change], p: 0 },
    ...(baseWinners && { baseWinners }),
  };
}

/** A run of two cycles that kept X 1 -> 4, then X 4 -> 5 on top of it, neither written to the files. */
const RUN = [move('w1', 1, 1, 4, 'kept'), move('r1', 1, 1, 2, 'no-effect'), move('w2', 2, 4, 5, 'kept', ['w1']), move('r2', 2, 4, 3, 'regressed', ['w1'])];

async function baselineOf(x: number, records: LessonRecord[]) {
  const workspace = mkdtempSync(join(tmpdir(), 'rsi-baseline-'));
  writeFileSync(join(workspace, 'params.js'), file(x));
  const found = await currentBaseline(workspace, parseLessons(records.map((r) => JSON.stringify(r)).join('\n')));
  return found && { median: found.median, side: found.side, lesson: found.lesson.id };
}

const verdict = (lesson: string, v: 'accepted' | 'rejected'): LessonRecord => ({ v: 1, type: 'verdict', lesson, verdict: v });

test('a pending proposal: the baseline is the last one measured without it, not the later cycles\' (measured with it)', async () => {
  assert.deepEqual(await baselineOf(1, RUN), { median: score(1), side: 'baseline', lesson: 'r1' });
});

test('a rejected proposal: the files are as they were, and so is the baseline', async () => {
  assert.deepEqual(await baselineOf(1, [...RUN, verdict('w1', 'rejected'), verdict('w2', 'rejected')]), { median: score(1), side: 'baseline', lesson: 'r1' });
});

test('an accepted proposal: the last winner\'s own runs measured the files as they are now', async () => {
  assert.deepEqual(await baselineOf(5, [...RUN, verdict('w1', 'accepted'), verdict('w2', 'accepted')]), { median: score(5), side: 'candidate', lesson: 'w2' });
});

test('the first winner accepted alone (auto-accept): the next cycle\'s baseline holds', async () => {
  assert.deepEqual(await baselineOf(4, [...RUN.slice(0, 2), verdict('w1', 'accepted'), move('r3', 2, 4, 3, 'regressed')]), { median: score(4), side: 'baseline', lesson: 'r3' });
});

test('files edited since the lessons: no measurement of them, so none is stated', async () => {
  assert.equal(await baselineOf(7, RUN), undefined);
});
