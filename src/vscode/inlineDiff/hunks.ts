// Line arithmetic of a proposal's hunks: computing them, following them through the user's edits,
// checking they still fit, and turning them into text edits. No vscode import, so unit tests can
// run this without an editor; a TextDocument satisfies `Lines` as it is.
import { diffArrays } from 'diff';

/** One block of consecutive changed lines. */
export interface Hunk {
  /** Unique within its file. */
  id: string;
  /** Where `oldLines` begin in the current text; for a pure insertion, the line the new lines go before. */
  start: number;
  oldLines: string[];
  newLines: string[];
  /**
   * A pure insertion replaces nothing, so it is checked against its neighbour instead: the line
   * above it (the line below when it inserts at the top). Absent for a new file.
   */
  neighbour?: string;
}

/** What a hunk needs to read from a text: a `vscode.TextDocument` fits. */
export interface Lines {
  readonly lineCount: number;
  lineAt(line: number): { readonly text: string };
}

/** A text edit in line/character terms: a range of the text and what replaces it. */
export interface LineEdit {
  start: { line: number; character: number };
  end: { line: number; character: number };
  text: string;
}

/** The editor's own line split: a final newline leaves an empty last line. */
export function splitLines(text: string): string[] {
  return text.split(/\r?\n/);
}

/**
 * The hunks turning `before` into `after`, without context lines. Diffing line arrays rather than
 * texts keeps the numbering identical to the editor's, final newline included.
 */
export function computeHunks(before: string[], after: string[]): Hunk[] {
  const hunks: Hunk[] = [];
  let line = 0;
  let open: Hunk | undefined;
  for (const part of diffArrays(before, after)) {
    if (!part.added && !part.removed) {
      open = undefined;
      line += part.value.length;
      continue;
    }
    if (!open) {
      open = { id: `h${hunks.length}`, start: line, oldLines: [], newLines: [] };
      hunks.push(open);
    }
    if (part.removed) {
      open.oldLines.push(...part.value);
      line += part.value.length;
    } else {
      open.newLines.push(...part.value);
    }
  }
  for (const hunk of hunks) {
    if (hunk.oldLines.length === 0) hunk.neighbour = hunk.start > 0 ? before[hunk.start - 1] : before[0];
  }
  return hunks;
}

/** Where a hunk is shown (its lenses, its ghost text): its first old line, or for a pure insertion the line above it. */
export function shownAt(hunk: Hunk): number {
  return hunk.oldLines.length > 0 ? hunk.start : Math.max(hunk.start - 1, 0);
}

/** The lines a hunk expects to find, and where. */
function expectation(hunk: Hunk): { from: number; lines: string[] } {
  if (hunk.oldLines.length > 0) return { from: hunk.start, lines: hunk.oldLines };
  if (hunk.neighbour === undefined) return { from: hunk.start, lines: [] };
  return { from: hunk.start > 0 ? hunk.start - 1 : 0, lines: [hunk.neighbour] };
}

/** True when the text still holds exactly what the hunk replaces, at the hunk's place. */
export function fits(hunk: Hunk, text: Lines): boolean {
  const { from, lines } = expectation(hunk);
  if (from < 0 || from + lines.length > text.lineCount || hunk.start > text.lineCount) return false;
  return lines.every((line, i) => text.lineAt(from + i).text === line);
}

/**
 * Where a hunk starts after one edit of the text. An edit that ends above the hunk (or exactly at
 * the start of its first line) moves it by the lines the edit added or removed; any other edit
 * leaves it in place, and `fits` then says whether it still applies.
 */
export function shiftedStart(start: number, edit: LineEdit): number {
  const endsAbove = edit.end.line < start || (edit.end.line === start && edit.end.character === 0);
  if (!endsAbove) return start;
  const added = edit.text.split('\n').length - 1;
  return start + added - (edit.end.line - edit.start.line);
}

/**
 * Moves hunks computed on `before` to where the same lines now are in `current` (the user edited
 * the file during the run). A hunk whose lines did not survive unchanged stays near its old place
 * and will not `fit`.
 */
export function relocate(hunks: Hunk[], before: string[], current: string[]): void {
  const moved = new Map<number, number>(); // line of `before` -> its line in `current`
  let from = 0;
  let to = 0;
  for (const part of diffArrays(before, current)) {
    if (!part.added && !part.removed) for (let i = 0; i < part.value.length; i++) moved.set(from + i, to + i);
    if (!part.added) from += part.value.length;
    if (!part.removed) to += part.value.length;
  }
  for (const hunk of hunks) {
    const { from: first } = expectation(hunk);
    // The nearest surviving line at or above the hunk tells how far this part of the file moved.
    let anchor = first;
    while (anchor >= 0 && !moved.has(anchor)) anchor--;
    const offset = anchor >= 0 ? moved.get(anchor)! - anchor : 0;
    hunk.start = Math.max(0, Math.min(hunk.start + offset, current.length));
  }
}

/** The edit that applies a hunk to a text in which it `fits`. */
export function hunkEdit(hunk: Hunk, text: Lines, eol: string): LineEdit {
  const end = hunk.start + hunk.oldLines.length;
  if (end < text.lineCount) {
    // Replace whole lines, each with its line break.
    return { start: { line: hunk.start, character: 0 }, end: { line: end, character: 0 }, text: hunk.newLines.map((l) => l + eol).join('') };
  }
  const last = text.lineCount - 1;
  const lastEnd = { line: last, character: text.lineAt(last).text.length };
  if (hunk.start > 0) {
    // The hunk reaches the last line, which has no line break after it: take the one before instead.
    const prev = hunk.start - 1;
    return { start: { line: prev, character: text.lineAt(prev).text.length }, end: lastEnd, text: hunk.newLines.map((l) => eol + l).join('') };
  }
  return { start: { line: 0, character: 0 }, end: lastEnd, text: hunk.newLines.join(eol) };
}

/** The text with the hunks applied (bottom first, so earlier starts stay valid). */
export function applyHunks(lines: string[], hunks: Hunk[]): string[] {
  const result = [...lines];
  for (const hunk of [...hunks].sort((a, b) => b.start - a.start)) {
    result.splice(hunk.start, hunk.oldLines.length, ...hunk.newLines);
  }
  return result;
}
