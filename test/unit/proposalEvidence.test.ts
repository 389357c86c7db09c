import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lesson, LessonMetric } from '../../src/core/lessons';
import { acceptTitle, ghostLabel, hunkHoverMarkdown, proposalHeadline } from '../../src/vscode/inlineDiff/evidence';

function metric(baseline: number, candidate: number, ci: [number, number]): LessonMetric {
  const change = (candidate - baseline) / Math.abs(baseline);
  return { name: 'sharpe', direction: 'maximize', baseline: { median: baseline, n: 1 }, candidate: { median: candidate, n: 1 }, change, ci, p: 0 };
}

function kept(id: string, cycle: number, m: LessonMetric, hypothesis = `${id} 0.5 -> 0.6202 (s.js): a step up`): Lesson {
  return { v: 1, id, time: '', cycle, proposer: 'tuner', hypothesis, files: ['s.js'], patch: '', patchHash: id, outcome: 'kept', metric: m, durationMs: 0 };
}

test('the headline states the whole proposal: one winner with its interval, several from start to end', () => {
  const one = kept('a', 1, metric(0.5, 0.6, [0.1, 0.3]));
  assert.equal(proposalHeadline([one]), 'Whole proposal: sharpe +20.0% [+10.0%, +30.0%], n=1+1');
  const chain = [one, kept('b', 2, metric(0.6, 1.2, [0.9, 1.1])), kept('c', 3, metric(1.2, 1.585, [0.3, 0.35]))];
  assert.equal(proposalHeadline(chain), 'Whole proposal: sharpe 0.50000 → 1.5850 (+217.00%), 3 kept changes measured one after the other');
  assert.equal(proposalHeadline([]), undefined);
});

test("a hunk's Accept shows a number only when it was measured alone; otherwise where it comes from", () => {
  const a = kept('a', 1, metric(0.5, 0.6, [0.1, 0.3]));
  const b = kept('b', 2, metric(0.6, 0.6, [-0.01, 0.01]));
  assert.equal(acceptTitle({ lessons: [a], measured: a.metric }), 'Accept (+20.0% [+10.0%, +30.0%], n=1+1)');
  assert.equal(acceptTitle({ lessons: [a, b] }), 'Accept (from 2 kept changes, each measured as a whole)');
  assert.equal(acceptTitle({ lessons: [b] }), 'Accept (part of a kept change measured as a whole)');
});

test('ghost text: the first new line and how many follow, never a squashed join', () => {
  assert.equal(ghostLabel(['  x = 1;']), 'x = 1;');
  assert.equal(ghostLabel(['  if (a) {', '    b();', '  }']), 'if (a) {  … +2 more lines: hover to read them');
  assert.ok(ghostLabel(['y'.repeat(500)]).length <= 100);
});

test('the hover renders the hunk once as a diff; a hypothesis is text, never Markdown (no quote, no list)', () => {
  const a = kept('a', 1, metric(0.5, 0.6, [0.1, 0.3]), '> 0.5 -> 0.6202 *bold* [link](x)');
  const md = hunkHoverMarkdown({ id: 'h0', start: 3, oldLines: ['x = 0.5'], newLines: ['x = 0.6202', 'y = ```'], lessons: [a], measured: a.metric }, 'command:rsi.openProposalDiff');
  assert.equal(md.split('**RSI proposal**').length, 2);
  assert.match(md, /- cycle 1: \\> 0\\\.5 → 0\\\.6202 \\\*bold\\\* \\\[link\\\]\\\(x\\\)/);
  assert.match(md, /````diff\n-x = 0\.5\n\+x = 0\.6202\n\+y = ```\n````/);
  assert.match(md, /\[Open Diff\]\(command:rsi\.openProposalDiff\)/);
});
