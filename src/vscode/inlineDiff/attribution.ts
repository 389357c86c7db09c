// Which winners a hunk of the accumulated proposal comes from, so its CodeLens names them (and
// shows a number only when one winner made exactly that hunk) and the user's verdict lands on the
// right lessons. No vscode import.
import { applyPatch, diffArrays, parsePatch } from 'diff';
import type { Lesson } from '../../core/lessons';
import type { FileChange } from '../../core/patch';
import { splitLines, type Hunk } from './hunks';

/**
 * A text whose lines remember which lessons wrote them: `lines[i]` was written by `tags[i]`, and
 * `gaps[i]` holds the lessons that deleted lines just before line i (`gaps` has one more entry).
 */
interface Lineage {
  lines: string[];
  tags: Set<string>[];
  gaps: Set<string>[];
}

function addAll(into: Set<string>, from: Set<string> | undefined): void {
  for (const id of from ?? []) into.add(id);
}

/**
 * The lineage after lesson `id` turned `prev` into `next`: unchanged lines keep their tags, a
 * block of new lines gets `id` and the tags of the lines it replaced, a pure deletion leaves
 * them in the gap where it happened.
 */
function advance(prev: Lineage, next: string[], id: string): Lineage {
  const tags: Set<string>[] = [];
  const gaps: Set<string>[] = [new Set()];
  let i = 0; // the line of `prev` we are at
  let block: { written: Set<string>; added: Set<string>[] } | undefined;
  const closeBlock = () => {
    if (!block) return;
    if (block.added.length > 0) for (const line of block.added) addAll(line, block.written);
    else addAll(gaps[tags.length], block.written);
    block = undefined;
  };
  for (const part of diffArrays(prev.lines, next)) {
    if (!part.added && !part.removed) {
      closeBlock();
      for (let k = 0; k < part.value.length; k++, i++) {
        addAll(gaps[tags.length], prev.gaps[i]);
        tags.push(prev.tags[i]);
        gaps.push(new Set());
      }
      continue;
    }
    block ??= { written: new Set([id]), added: [] };
    if (part.removed) {
      for (let k = 0; k < part.value.length; k++, i++) {
        addAll(block.written, prev.gaps[i]);
        addAll(block.written, prev.tags[i]);
      }
    } else {
      for (let k = 0; k < part.value.length; k++) {
        const line = new Set<string>();
        block.added.push(line);
        tags.push(line);
        gaps.push(new Set());
      }
    }
  }
  if (block) addAll(block.written, prev.gaps[i]);
  closeBlock();
  addAll(gaps[tags.length], prev.gaps[i]);
  return { lines: next, tags, gaps };
}

/** The file's text after each lesson's patch in turn, or undefined when a patch does not apply. */
function lineageOf(change: FileChange, lessons: Lesson[]): Lineage | undefined {
  const before = splitLines(change.before ?? '');
  let lineage: Lineage = { lines: before, tags: before.map(() => new Set()), gaps: [...before, ''].map(() => new Set()) };
  let text = change.before ?? '';
  for (const lesson of lessons) {
    const filePatch = parsePatch(lesson.patch).find((p) => [p.oldFileName, p.newFileName].some((name) => name?.replace(/^[ab]\//, '') === change.path));
    if (!filePatch) continue;
    const next = applyPatch(text, filePatch);
    if (next === false) return undefined;
    text = next;
    lineage = advance(lineage, splitLines(text), lesson.id);
  }
  return text === (change.after ?? '') ? lineage : undefined;
}

/**
 * The winners each hunk of one file comes from, oldest first. The winners' patches are replayed
 * on the file: a hunk comes from every winner that wrote or deleted one of its lines on the way.
 * When the patches cannot be replayed, every winner that touched the file is named.
 * `lessons` are the proposal's winners, oldest first; `hunks` turn `change.before` into `change.after`.
 */
export function attributeHunks(change: FileChange, hunks: Hunk[], lessons: Lesson[]): Lesson[][] {
  const touching = lessons.filter((l) => l.files.includes(change.path));
  const lineage = change.before !== null && change.after !== null ? lineageOf(change, touching) : undefined;
  if (!lineage) return hunks.map(() => touching);
  let shift = 0; // where a hunk's new lines start in the final text, relative to its start in `before`
  return hunks.map((hunk) => {
    const start = hunk.start + shift;
    shift += hunk.newLines.length - hunk.oldLines.length;
    const ids = new Set<string>();
    for (let line = start; line < start + hunk.newLines.length; line++) addAll(ids, lineage.tags[line]);
    for (let gap = start; gap <= start + hunk.newLines.length; gap++) addAll(ids, lineage.gaps[gap]);
    const found = touching.filter((l) => ids.has(l.id));
    return found.length > 0 ? found : touching;
  });
}
