import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lesson, Outcome } from '../../src/core/lessons';
import { historyChart, metricHistory, niceTicks, reportHtml } from '../../src/vscode/reportHtml';

function lesson(id: string, cycle: number, outcome: Outcome, baseline: number, change: number): Lesson {
  return {
    v: 1, id, time: '2026-01-01T00:00:00Z', cycle, proposer: 'tuner', hypothesis: `<${id}>`, files: [], patch: '', patchHash: id, outcome, durationMs: 1,
    metric: { name: 'sharpe', direction: 'maximize', baseline: { median: baseline, n: 1 }, candidate: { median: baseline * (1 + change), n: 1 }, change, ci: [change - 0.1, change + 0.1], p: 0 },
  };
}

test('the history has a point per cycle, kept values with their interval in the metric unit', () => {
  const history = metricHistory([lesson('a', 1, 'regressed', -2, -0.5), lesson('b', 1, 'kept', -2, 0.5), lesson('c', 2, 'no-effect', -1, 0)]);
  assert.ok(history);
  assert.deepEqual(history.points.map((p) => [p.cycle, p.baseline, p.kept.length]), [[1, -2, 1], [2, -1, 0]]);
  // change is relative to |baseline|: -2 + 0.5 * 2 = -1, interval -2 + [0.4, 0.6] * 2
  const [k] = history.points[0].kept;
  assert.deepEqual([k.value, k.low, k.high], [-1, -1.2, -0.8]);
});

test('the page has the chart, escapes text, allows no script and styles only by nonce', () => {
  const lessons = [lesson('a', 1, 'kept', 1, 0.2), lesson('b', 2, 'no-effect', 1.2, 0)];
  const html = reportHtml({ folderName: 'ws', log: { lessons, verdicts: new Map(), skipped: [] }, nonce: 'N0NCE' });
  assert.match(html, /<svg /);
  assert.match(html, /content="default-src 'none'; style-src 'nonce-N0NCE';"/);
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<a>/);
  assert.match(html, /&#60;a&#62;/);
  assert.match(html, /Kept, no verdict yet<\/td><td class="num">1</);
});

test('ticks are round steps covering the range', () => {
  assert.deepEqual(niceTicks(0.3, 1.7), [0, 0.5, 1, 1.5, 2]);
  assert.deepEqual(niceTicks(-1.2, -0.8), [-1.2, -1.1, -1, -0.9, -0.8]);
});

test('the chart fits the page width, and a kept value equal to its baseline hides no dot', () => {
  const chart = historyChart(metricHistory([lesson('a', 1, 'kept', 1, 0), lesson('b', 2, 'no-effect', 1, 0)])!);
  assert.doesNotMatch(chart, /<svg [^>]*width=/, 'no fixed width: the page scales it');
  const cx = (cls: string) => [...chart.matchAll(new RegExp(`<circle class="${cls}" cx="([^"]+)"`, 'g'))].map((m) => Number(m[1]));
  const [keptX] = cx('kept');
  assert.ok(!cx('baseline-dot').includes(keptX), 'the kept mark sits beside its baseline dot, not on it');
  assert.ok(chart.indexOf('class="baseline-dot"') > chart.indexOf('class="kept"'), 'baseline dots are drawn last, on top');
});

test('the report shows each kept change\'s guards and the candidates a guard stopped', () => {
  const guard = (change: number, passed: boolean) => ({ name: 'oos', direction: 'maximize' as const, baseline: { median: -1, n: 6 }, candidate: { median: -1 + change, n: 6 }, change, ci: [change, change] as [number, number], p: 0, tolerance: 0.05, passed });
  const lessons = [{ ...lesson('a', 1, 'kept', -2, 0.5), guards: [guard(0.01, true)] }, { ...lesson('b', 1, 'guard-failed', -2, 0.8), guards: [guard(-0.2, false)] }];
  const html = reportHtml({ folderName: 'ws', log: { lessons, verdicts: new Map(), skipped: [] }, nonce: 'N' });
  assert.match(html, /<th>guards<\/th>/);
  assert.match(html, /<td>oos \+1\.00% \[\+1\.00%, \+1\.00%\]<\/td>/);
  assert.match(html, /<h2>Better, but a guard got worse<\/h2><table>.*<td>&#60;b&#62;<\/td><td class="num">\+80\.00%<\/td><td>oos -20\.00% \[-20\.00%, -20\.00%\] beyond its 5\.00% tolerance<\/td>/s);
  const plain = reportHtml({ folderName: 'ws', log: { lessons: [lesson('c', 1, 'kept', 1, 0.1)], verdicts: new Map(), skipped: [] }, nonce: 'N' });
  assert.doesNotMatch(plain, /guards/, 'no guards column where none was measured');
});
