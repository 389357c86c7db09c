import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lesson } from '../../src/core/lessons';
import { RunProgress } from '../../src/vscode/runProgress';

function kept(change: number, direction: 'maximize' | 'minimize'): Lesson {
  return {
    v: 1, id: String(change), time: '', cycle: 1, proposer: 'tuner', hypothesis: 'h', files: [], patch: '', patchHash: '', outcome: 'kept', durationMs: 1,
    metric: { name: 'm', direction, baseline: { median: 1, n: 5 }, candidate: { median: 1 + change, n: 5 }, change, ci: [change, change], p: 0.01 },
  };
}

test('shows the stage, then candidate i of n with the runs so far across phases', () => {
  const progress = new RunProgress();
  progress.update({ kind: 'stage', cycle: 2, stage: 'baseline', message: 'measuring the baseline' });
  assert.equal(progress.short, 'baseline');
  assert.equal(progress.message, 'cycle 2: measuring the baseline');
  const candidate = { kind: 'candidate', cycle: 2, total: 4, hypothesis: 'x 1 -> 2' } as const;
  progress.update({ ...candidate, index: 0, phase: 'measure', runs: { baseline: 3, candidate: 2 } });
  progress.update({ ...candidate, index: 0, phase: 'measure', runs: { baseline: 3, candidate: 3 } });
  progress.update({ kind: 'lesson', cycle: 2, lesson: { ...kept(0.01, 'maximize'), hypothesis: 'x 1 -> 2', outcome: 'no-effect' } });
  progress.update({ ...candidate, index: 1, phase: 'measure', runs: { baseline: 1, candidate: 1 } });
  assert.equal(progress.short, 'candidate 2/4 · 8 runs');
  assert.equal(progress.message, 'cycle 2, candidate 2 of 4: measure: x 1 -> 2 (8 runs so far)');
});

test('the best change is the best kept one in the metric direction', () => {
  const up = new RunProgress();
  for (const change of [0.05, 0.2, 0.1]) up.update({ kind: 'lesson', cycle: 1, lesson: kept(change, 'maximize') });
  assert.equal(up.bestChange, '+20.00%');
  const down = new RunProgress();
  for (const change of [-0.05, -0.2, -0.1]) down.update({ kind: 'lesson', cycle: 1, lesson: kept(change, 'minimize') });
  assert.equal(down.bestChange, '-20.00%');
});

test('one run is "1 run", not "1 runs"', () => {
  const progress = new RunProgress();
  progress.update({ kind: 'candidate', cycle: 1, total: 1, hypothesis: 'x', index: 0, phase: 'gate', runs: { baseline: 0, candidate: 1 } });
  assert.equal(progress.short, 'candidate 1/1 · 1 run');
  assert.match(progress.message, /\(1 run so far\)$/);
});

test('candidates side by side: both numbers, no flickering hypothesis; one left is shown as before', () => {
  const progress = new RunProgress();
  progress.update({ kind: 'stage', cycle: 1, stage: 'candidate', message: 'evaluating' });
  const candidate = { kind: 'candidate', cycle: 1, total: 4, phase: 'measure' } as const;
  progress.update({ ...candidate, index: 2, hypothesis: 'c', runs: { baseline: 1, candidate: 1 } });
  progress.update({ ...candidate, index: 0, hypothesis: 'a', runs: { baseline: 1, candidate: 0 } });
  assert.equal(progress.short, 'candidates 1, 3/4 · 3 runs');
  assert.equal(progress.message, 'cycle 1, candidates 1, 3 of 4, side by side (3 runs so far)');
  progress.update({ kind: 'lesson', cycle: 1, lesson: { ...kept(0.1, 'maximize'), hypothesis: 'c', outcome: 'regressed' } });
  progress.update({ ...candidate, index: 0, hypothesis: 'a', runs: { baseline: 1, candidate: 1 } });
  assert.equal(progress.short, 'candidate 1/4 · 4 runs');
  assert.equal(progress.message, 'cycle 1, candidate 1 of 4: measure: a (4 runs so far)');
});

test('a candidate measured by a worker of a queue names it', () => {
  const progress = new RunProgress();
  progress.update({ kind: 'candidate', cycle: 1, index: 0, total: 2, hypothesis: 'x 1 -> 2', phase: 'measure', runs: { baseline: 1, candidate: 1 }, worker: 'build-3:4242' });
  assert.equal(progress.message, 'cycle 1, candidate 1 of 2: measure on build-3:4242: x 1 -> 2 (2 runs so far)');
});
