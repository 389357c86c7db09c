import * as path from 'node:path';
import { applyPatch, parsePatch } from 'diff';
import type { Lesson, LessonLog, SideSummary } from './lessons';
import { hashChanges } from './patch';
import { readTextOrNull } from './workspace';

export interface RecordedMeasurement extends SideSummary {
  lesson: Lesson;
  /** Which side of the lesson's comparison measured the files as they are now. */
  side: 'baseline' | 'candidate';
}

/**
 * The latest measurement in the lessons of the workspace's files as they are now, or undefined.
 * A lesson's baseline counts when the winners it was measured with (`baseWinners`) are all
 * accepted, no winner accepted later is missing from them, and its patch still applies to the
 * files; a kept lesson's candidate counts on the same terms when its files are what it proposed.
 * So a baseline measured with a winner the user never accepted is never passed off as the files'.
 */
export async function currentBaseline(workspace: string, log: LessonLog): Promise<RecordedMeasurement | undefined> {
  const accepted = log.lessons.filter((l) => l.outcome === 'kept' && log.verdicts.get(l.id) === 'accepted');
  // Read once: every lesson back to the first may be checked against the same few files.
  const texts = new Map<string, Promise<string | null>>();
  const read = (rel: string) => texts.get(rel) ?? texts.set(rel, readTextOrNull(path.join(workspace, rel))).get(rel)!;
  /** Whether the winners in `ids` are exactly those accepted since `cycle` (earlier ones were in the files already). */
  const holds = (ids: string[], cycle: number) =>
    ids.every((id) => accepted.some((l) => l.id === id)) && accepted.every((l) => l.cycle < cycle || ids.includes(l.id));

  for (const lesson of [...log.lessons].reverse()) {
    const metric = lesson.metric;
    if (!metric) continue;
    const base = lesson.baseWinners ?? [];
    if (lesson.outcome === 'kept' && holds([...base, lesson.id], lesson.cycle) && (await isProposed(lesson, read))) {
      return { ...metric.candidate, lesson, side: 'candidate' };
    }
    if (holds(base, lesson.cycle) && (await patchApplies(lesson.patch, read))) return { ...metric.baseline, lesson, side: 'baseline' };
  }
  return undefined;
}

/** Whether the lesson's files hold what it proposed (its hash is of the files it produces). */
async function isProposed(lesson: Lesson, read: (rel: string) => Promise<string | null>): Promise<boolean> {
  const files = await Promise.all(lesson.files.map(async (file) => ({ path: file, before: null, after: await read(file) })));
  return hashChanges(files) === lesson.patchHash;
}

/** Whether every file of the patch is still what the patch was made against, where it changes it. */
async function patchApplies(patch: string, read: (rel: string) => Promise<string | null>): Promise<boolean> {
  const files = parsePatch(patch);
  if (files.length === 0) return false;
  for (const file of files) {
    const creates = file.oldFileName === '/dev/null';
    const name = (creates ? file.newFileName : file.oldFileName)?.replace(/^[ab]\//, '');
    if (!name) return false;
    const now = await read(name);
    if (creates ? now !== null : now === null || applyPatch(now, file) === false) return false;
  }
  return true;
}
