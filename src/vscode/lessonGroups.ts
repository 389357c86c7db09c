import type { Lesson, LessonLog } from '../core/lessons';

/** Where a lesson belongs once the user's verdict is taken into account. */
export type GroupId =
  | 'accepted' | 'kept' | 'rejected' | 'regressed' | 'no-effect'
  | 'guard-failed' | 'gate-failed' | 'crashed' | 'timeout' | 'memory-exceeded' | 'invalid' | 'duplicate';

export interface LessonGroup {
  id: GroupId;
  label: string;
  /** Newest first. */
  lessons: Lesson[];
}

/** Display order: what improved the code first, then what was tried and why it failed. */
const GROUPS: ReadonlyArray<{ id: GroupId; label: string }> = [
  { id: 'accepted', label: 'Accepted and kept' },
  { id: 'kept', label: 'Kept, no verdict yet' },
  { id: 'rejected', label: 'Rejected by you' },
  { id: 'regressed', label: 'Regressed' },
  { id: 'no-effect', label: 'No effect' },
  { id: 'guard-failed', label: 'Better, but a guard got worse' },
  { id: 'gate-failed', label: 'Failed: gate' },
  { id: 'crashed', label: 'Failed: crash' },
  { id: 'timeout', label: 'Failed: timeout' },
  { id: 'memory-exceeded', label: 'Failed: memory' },
  { id: 'invalid', label: 'Failed: invalid' },
  { id: 'duplicate', label: 'Duplicates' },
];

/** The groups of what changed the code (or would have): the tree shows them first, the rest folded under one node. */
export const CHANGE_GROUPS: ReadonlySet<GroupId> = new Set(['accepted', 'kept', 'rejected']);

export function groupOf(lesson: Lesson, verdict: 'accepted' | 'rejected' | undefined): GroupId {
  if (verdict === 'rejected') return 'rejected';
  if (lesson.outcome === 'kept') return verdict === 'accepted' ? 'accepted' : 'kept';
  return lesson.outcome;
}

/** The non-empty groups in display order. */
export function groupLessons(log: Pick<LessonLog, 'lessons' | 'verdicts'>): LessonGroup[] {
  // Reversed file order first: of two lessons with the same time, the later appended comes first.
  const newestFirst = [...log.lessons].reverse().sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  return GROUPS.map(({ id, label }) => ({
    id,
    label,
    lessons: newestFirst.filter((lesson) => groupOf(lesson, log.verdicts.get(lesson.id)) === id),
  })).filter((group) => group.lessons.length > 0);
}
