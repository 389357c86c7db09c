import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lesson, Outcome } from '../../src/core/lessons';
import { CHANGE_GROUPS, groupLessons } from '../../src/vscode/lessonGroups';

function lesson(id: string, outcome: Outcome, time: string): Lesson {
  return { v: 1, id, time, cycle: 1, proposer: 'tuner', hypothesis: id, files: [], patch: '', patchHash: id, outcome, durationMs: 1 };
}

test('kept lessons are split by the verdict; a rejected one leaves its outcome group', () => {
  const lessons = [lesson('a', 'kept', '2026-01-01T00:00:01Z'), lesson('b', 'kept', '2026-01-01T00:00:02Z'), lesson('c', 'kept', '2026-01-01T00:00:03Z'), lesson('d', 'gate-failed', '2026-01-01T00:00:04Z')];
  const verdicts = new Map<string, 'accepted' | 'rejected'>([['a', 'accepted'], ['b', 'rejected']]);
  const groups = groupLessons({ lessons, verdicts });
  assert.deepEqual(groups.map((g) => [g.label, g.lessons.map((l) => l.id)]), [
    ['Accepted and kept', ['a']],
    ['Kept, no verdict yet', ['c']],
    ['Rejected by you', ['b']],
    ['Failed: gate', ['d']],
  ]);
});

test('newest first; of two at the same time, the one appended later first', () => {
  const lessons = [lesson('old', 'no-effect', '2026-01-01T00:00:00Z'), lesson('x', 'no-effect', '2026-01-02T00:00:00Z'), lesson('y', 'no-effect', '2026-01-02T00:00:00Z')];
  const [group] = groupLessons({ lessons, verdicts: new Map() });
  assert.deepEqual(group.lessons.map((l) => l.id), ['y', 'x', 'old']);
});

test('a candidate a guard stopped has its own group, among what was tried and not kept', () => {
  const groups = groupLessons({ lessons: [lesson('a', 'guard-failed', '2026-01-01T00:00:01Z'), lesson('b', 'kept', '2026-01-01T00:00:02Z')], verdicts: new Map() });
  assert.deepEqual(groups.map((g) => [g.id, g.label, g.lessons.length]), [['kept', 'Kept, no verdict yet', 1], ['guard-failed', 'Better, but a guard got worse', 1]]);
  assert.ok(!CHANGE_GROUPS.has('guard-failed'));
});
