import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTwoFilesPatch } from 'diff';
import type { Lesson } from '../../src/core/lessons';
import { attributeHunks } from '../../src/vscode/inlineDiff/attribution';
import { applyHunks, computeHunks, fits, hunkEdit, relocate, shiftedStart, splitLines, type LineEdit, type Lines } from '../../src/vscode/inlineDiff/hunks';

const BEFORE = 'a\nb\nc\nd\ne\n';

function linesOf(lines: string[]): Lines {
  return { lineCount: lines.length, lineAt: (line) => ({ text: lines[line] }) };
}

/** Applies a LineEdit to a text the way the editor would. */
function applyEdit(text: string, edit: LineEdit): string {
  const lines = splitLines(text);
  const offset = (p: LineEdit['start']) => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  return text.slice(0, offset(edit.start)) + edit.text + text.slice(offset(edit.end));
}

function acceptOneByOne(before: string, after: string): string {
  let text = before;
  // Bottom first, as the session's tracking would keep the others aligned.
  for (const hunk of computeHunks(splitLines(before), splitLines(after)).reverse()) {
    assert.ok(fits(hunk, linesOf(splitLines(text))));
    text = applyEdit(text, hunkEdit(hunk, linesOf(splitLines(text)), '\n'));
  }
  return text;
}

test('hunks: replacement, insertion, deletion, in editor line numbers', () => {
  const hunks = computeHunks(splitLines(BEFORE), splitLines('a\nB\nc\nx\nd\n'));
  assert.deepEqual(
    hunks.map(({ start, oldLines, newLines, neighbour }) => ({ start, oldLines, newLines, neighbour })),
    [
      { start: 1, oldLines: ['b'], newLines: ['B'], neighbour: undefined },
      { start: 3, oldLines: [], newLines: ['x'], neighbour: 'c' },
      { start: 4, oldLines: ['e'], newLines: [], neighbour: undefined },
    ],
  );
});

test('hunks: accepting every hunk gives exactly the proposed text, final newline or not', () => {
  const cases: [string, string][] = [
    [BEFORE, 'a\nB\nc\nx\nd\n'],
    ['a\nb', 'a\nb\nc'],
    ['a\nb\n', 'a'],
    ['a\nb\n', 'z\na\nb\n'],
    ['a', 'b'],
    ['', 'x\n'],
  ];
  for (const [before, after] of cases) assert.equal(acceptOneByOne(before, after), after, JSON.stringify([before, after]));
  for (const [before, after] of cases) assert.equal(applyHunks(splitLines(before), computeHunks(splitLines(before), splitLines(after))).join('\n'), after);
});

test('hunks: an edit above shifts, an edit inside makes it not fit', () => {
  const [hunk] = computeHunks(splitLines(BEFORE), splitLines('a\nb\nc\nD\ne\n'));
  assert.equal(hunk.start, 3);
  const typedLineAbove: LineEdit = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 }, text: 'new\n' };
  assert.equal(shiftedStart(hunk.start, typedLineAbove), 4);
  const joinedTwoLinesAbove: LineEdit = { start: { line: 0, character: 1 }, end: { line: 1, character: 0 }, text: '' };
  assert.equal(shiftedStart(hunk.start, joinedTwoLinesAbove), 2);
  const typedInside: LineEdit = { start: { line: 3, character: 1 }, end: { line: 3, character: 1 }, text: 'x' };
  assert.equal(shiftedStart(hunk.start, typedInside), 3);
  assert.equal(fits(hunk, linesOf(splitLines(applyEdit(BEFORE, typedInside)))), false);
  const below: LineEdit = { start: { line: 4, character: 0 }, end: { line: 5, character: 0 }, text: '' };
  assert.equal(shiftedStart(hunk.start, below), 3);
});

test('hunks: a pure insertion is checked against the line above it', () => {
  const [hunk] = computeHunks(splitLines(BEFORE), splitLines('a\nb\nnew\nc\nd\ne\n'));
  assert.deepEqual([hunk.start, hunk.neighbour], [2, 'b']);
  assert.equal(fits(hunk, linesOf(splitLines(BEFORE))), true);
  assert.equal(fits(hunk, linesOf(splitLines('a\nB\nc\nd\ne\n'))), false);
});

test('hunks: relocate follows lines moved during the run and leaves changed ones unfit', () => {
  const hunks = computeHunks(splitLines(BEFORE), splitLines('A\nb\nc\nD\ne\n'));
  const current = splitLines('top\nA-user\nb\nc\nd\ne\n');
  relocate(hunks, splitLines(BEFORE), current);
  const [first, second] = hunks;
  assert.equal(fits(first, linesOf(current)), false);
  assert.equal(second.start, 4);
  assert.equal(fits(second, linesOf(current)), true);
});

test('attribution: every winner that wrote or deleted a line of the hunk on the way, oldest first', () => {
  const lesson = (id: string, before: string, after: string): Lesson => ({
    v: 1, id, time: '', cycle: 1, proposer: 'tuner', hypothesis: id, files: ['s.js'],
    patch: createTwoFilesPatch('a/s.js', 'b/s.js', before, after), patchHash: id, outcome: 'kept', durationMs: 0,
  });
  const sources = (chain: string[], lessons: Lesson[]) => {
    const change = { path: 's.js', before: chain[0], after: chain[chain.length - 1] };
    const hunks = computeHunks(splitLines(change.before), splitLines(change.after));
    return attributeHunks(change, hunks, lessons).map((found) => found.map((l) => l.id));
  };
  // x moved twice (1 -> 2 -> 3), y once, z deleted; k and m stay, so there are three hunks.
  const texts = ['x = 1\nk\ny = 1\nm\nz\n', 'x = 2\nk\ny = 1\nm\nz\n', 'x = 3\nk\ny = 5\nm\nz\n', 'x = 3\nk\ny = 5\nm\n'];
  const [a, b, c] = [lesson('a', texts[0], texts[1]), lesson('b', texts[1], texts[2]), lesson('c', texts[2], texts[3])];
  assert.deepEqual(sources(texts, [a, b, c]), [['a', 'b'], ['b'], ['c']]);
  // A chain that does not replay (a patch of another text) names every winner of the file.
  const stranger = lesson('stranger', 'q\n', 'r\n');
  assert.deepEqual(sources(['x = 1\n', 'x = 2\n'], [stranger]), [['stranger']]);
});
