import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Calibration } from '../../src/core/calibration';
import { describeCalibration, describeGuards, describeOutcome } from '../../src/core/format';
import type { Lesson } from '../../src/core/lessons';

const lesson = (metric: Partial<NonNullable<Lesson['metric']>>): Lesson => ({
  v: 1, id: 'x', time: '2026-12-01T00:00:00Z', cycle: 1, proposer: 'tuner', hypothesis: 'h', files: [], patch: '', patchHash: '', outcome: 'kept', durationMs: 1,
  metric: { name: 'CPU time', direction: 'minimize', baseline: { median: 100, n: 28 }, candidate: { median: 94, n: 28 }, change: -0.061, ci: [-0.103, -0.014], p: 0.0031, ...metric },
});

test('a decision reads in plain words, with p, floor and method on request', () => {
  const full = lesson({ level: 0.95, method: 'paired-log', floor: 0.0086, phases: [14, 14] });
  assert.equal(describeOutcome(full), 'kept: -6.10% CPU time (95% CI -10.30% to -1.40%), 28 runs a side (14 + 14)');
  assert.equal(
    describeOutcome(full, { p: true }),
    'kept: -6.10% CPU time (95% CI -10.30% to -1.40%), 28 runs a side (14 + 14); p=0.0031, floor 0.86%, paired log ratios, anytime-valid mean and median sequences',
  );
  // An unbounded end (too few pairs yet) says so, and an interval open at both ends (-100% is a
  // log ratio's -infinity) reads as not bounded yet; a lesson from before these fields still reads.
  assert.match(describeOutcome(lesson({ ci: [-0.05, Number.MAX_VALUE], level: 0.95 })), /95% CI -5.00% to unbounded/);
  assert.match(describeOutcome(lesson({ ci: [-1, Number.MAX_VALUE], level: 0.95, method: 'paired-log' })), /\(95% CI not bounded yet\), /);
  assert.equal(describeOutcome(lesson({ baseline: { median: 1, n: 2 }, candidate: { median: 1, n: 1 } })), 'kept: -6.10% CPU time (CI -10.30% to -1.40%), 2+1 runs');
});

test('a calibration is set against the one it replaces', () => {
  const base: Calibration = {
    v: 2, time: '2026-12-01T09:12:00.000Z', floor: 0.014, runs: 20, deterministic: false, metricCommand: 'c', machine: 'm',
    spread: { median: 201.3, mad: 2 }, pairSpread: 0.02, conditions: { loadavg: [1.9, 1, 1], cores: 2, platform: 'linux', node: 'v20' },
  };
  const now = { ...base, floor: 0.0086, conditions: { ...base.conditions, loadavg: [0.4, 1, 1] } };
  assert.equal(describeCalibration(now, base), 'noise floor 0.86% (20 A/A pairs, median 201.30, load 0.40 on 2 cores; was 1.40% on 2026-12-01 09:12 at load 1.90)');
  assert.match(describeCalibration(now), /no earlier calibration/);
});

test('a guard-failed lesson says which guard and by how much; each guard reads on its own line', () => {
  const oos = { name: 'oos-sharpe', direction: 'maximize' as const, baseline: { median: -1, n: 6 }, candidate: { median: -1.2, n: 6 }, change: -0.2, ci: [-0.2, -0.2] as [number, number], p: 0, level: 0.95, method: 'paired-relative' as const, tolerance: 0.05 };
  const failed: Lesson = { ...lesson({ level: 1, method: 'exact' }), outcome: 'guard-failed', guards: [{ ...oos, passed: false }], detail: 'guard "oos-sharpe" worse beyond its 5.00% tolerance: -20.00% oos-sharpe (95% CI -20.00% to -20.00%), 6 runs a side' };
  assert.equal(describeOutcome(failed), 'guard-failed: -6.10% CPU time (exact), 28 runs a side; but guard "oos-sharpe" worse beyond its 5.00% tolerance: -20.00% oos-sharpe (95% CI -20.00% to -20.00%), 6 runs a side');
  assert.deepEqual(describeGuards(failed), ['guard oos-sharpe worse beyond its tolerance: -20.00% (95% CI -20.00% to -20.00%), 6 runs a side, tolerance 5.00%']);
  assert.deepEqual(describeGuards({ guards: [{ ...oos, change: 0.01, ci: [0.01, 0.01], passed: true }] }), ['guard oos-sharpe held: +1.00% (95% CI +1.00% to +1.00%), 6 runs a side, tolerance 5.00%']);
  assert.deepEqual(describeGuards(lesson({})), []);
});
