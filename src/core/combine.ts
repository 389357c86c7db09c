/**
 * Co-winners: a cycle that keeps several candidates carries only the best into the next baseline.
 * The others that change other lines (other parameters, other hunks) are merged onto it and tried
 * first in the next cycle, as one candidate naming its parents: gains found side by side are
 * often independent, and their sum is then worth more than the best alone.
 */
import { diffArrays } from 'diff';
import type { Lesson } from './lessons';
import type { Candidate } from './patch';
import { findParameters } from './proposers/tuner';
import type { Proposal } from './proposers/types';

/** A kept candidate: its lesson (id, hypothesis) and its file changes. */
export interface Kept {
  lesson: Lesson;
  candidate: Candidate;
}

export interface Combination {
  proposal: Proposal & { parents: string[] };
  /** The text each edited file must still have when the combination is tried (the winner's baseline). */
  bases: Record<string, string>;
}

/** Lines `start..end` of the base (0-based, end excluded) replaced by `lines`. */
interface LineEdit {
  start: number;
  end: number;
  lines: string[];
}

function lineEdits(before: string, after: string): LineEdit[] {
  const edits: LineEdit[] = [];
  let at = 0;
  for (const part of diffArrays(before.split('\n'), after.split('\n'))) {
    if (!part.added && !part.removed) {
      at += part.value.length;
      continue;
    }
    const last = edits[edits.length - 1];
    const edit = last && last.end === at ? last : { start: at, end: at, lines: [] };
    if (edit !== last) edits.push(edit);
    if (part.removed) edit.end = at += part.value.length;
    else edit.lines.push(...part.value);
  }
  return edits;
}

/** Two edits clash when they change a common line, or insert at the same place (their order would be a guess). */
function clash(a: LineEdit, b: LineEdit): boolean {
  const insertion = a.start === a.end || b.start === b.end;
  return a.start < b.end && b.start < a.end ? true : insertion && (a.start === b.start || a.start === b.end || b.start === a.end);
}

function applyEdits(before: string, edits: LineEdit[]): string {
  const lines = before.split('\n');
  for (const e of [...edits].sort((x, y) => y.start - x.start)) lines.splice(e.start, e.end - e.start, ...e.lines);
  return lines.join('\n');
}

/**
 * The winner with every other kept candidate (best first) whose edits clash with none of the
 * winner's or of an earlier one taken; undefined when none can join. Created or deleted files are
 * left to their own candidate.
 */
export function combine(winner: Kept, others: Kept[]): Combination | undefined {
  const taken = new Map<string, { before: string; edits: LineEdit[] }>();
  const editsOf = (k: Kept) => {
    if (k.candidate.changes.some((c) => c.before === null || c.after === null)) return undefined;
    return k.candidate.changes.map((c) => ({ path: c.path, before: c.before!, edits: lineEdits(c.before!, c.after!) }));
  };
  const fits = (files: { path: string; before: string; edits: LineEdit[] }[]) =>
    files.every((f) => {
      const t = taken.get(f.path);
      return !t || (t.before === f.before && f.edits.every((e) => t.edits.every((u) => !clash(e, u))));
    });
  const take = (files: { path: string; before: string; edits: LineEdit[] }[]) => {
    for (const f of files) {
      const t = taken.get(f.path);
      if (t) t.edits.push(...f.edits);
      else taken.set(f.path, { before: f.before, edits: [...f.edits] });
    }
  };
  const winnerFiles = editsOf(winner);
  if (!winnerFiles) return undefined;
  take(winnerFiles);
  const joined: Kept[] = [];
  const touched = new Set<string>();
  for (const other of others) {
    const files = editsOf(other);
    if (!files || !fits(files)) continue;
    take(files);
    joined.push(other);
    for (const f of files) touched.add(f.path);
  }
  if (joined.length === 0) return undefined;
  const winnerAfter = new Map(winner.candidate.changes.map((c) => [c.path, c.after!]));
  const bases: Record<string, string> = {};
  const edits: Proposal['edits'] = [...touched].sort().map((path) => {
    const { before, edits: all } = taken.get(path)!;
    bases[path] = winnerAfter.get(path) ?? before;
    return { kind: 'file', path, content: applyEdits(before, all) };
  });
  const parents = [winner.lesson, ...joined.map((k) => k.lesson)];
  const proposal: Combination['proposal'] = {
    hypothesis: `combines the kept ${parents.map((l) => l.id.slice(0, 8)).join(' + ')}: ${joined.map((k) => k.lesson.hypothesis).join('; ')}`,
    edits,
    parents: parents.map((l) => l.id),
  };
  // Tuned parameters are read back from the merged files, so the tuner knows this value set was tried.
  if (winner.lesson.params) {
    const read = edits.flatMap((e) => (e.kind === 'file' ? findParameters(e.path, e.content) : []));
    proposal.params = { ...winner.lesson.params, ...Object.fromEntries(read.map((p) => [p.key, p.value])) };
  }
  return { proposal, bases };
}
