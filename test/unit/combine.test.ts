import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combine, type Kept } from '../../src/core/combine';
import type { Lesson } from '../../src/core/lessons';
import type { FileChange } from '../../src/core/patch';

const BASE = ['module.exports = {', '  fast: 3, // rsi: int 2..50', '  slow: 9, // rsi: int 5..200', '  size: 0.5, // rsi: 0.1..1', '};', ''].join('\n');

function kept(id: string, hypothesis: string, changes: FileChange[]): Kept {
  const lesson = { v: 1, id, hypothesis, outcome: 'kept' } as Lesson;
  return { lesson, candidate: { hypothesis, changes, patch: '', patchHash: id, proposal: { hypothesis, edits: [] } } };
}

const edit = (path: string, from: string, to: string, before = BASE): FileChange => ({ path, before, after: before.replace(from, to) });

test('co-winners moving adjacent lines combine onto the winner, naming their parents', () => {
  const winner = kept('aaaaaaaa-1', 'fast 3 -> 5 (s.js)', [edit('s.js', 'fast: 3', 'fast: 5')]);
  const other = kept('bbbbbbbb-2', 'slow 9 -> 14 (s.js)', [edit('s.js', 'slow: 9', 'slow: 14')]);
  const c = combine(winner, [other])!;
  assert.deepEqual(c.proposal.parents, ['aaaaaaaa-1', 'bbbbbbbb-2']);
  assert.deepEqual(c.proposal.edits, [{ kind: 'file', path: 's.js', content: BASE.replace('fast: 3', 'fast: 5').replace('slow: 9', 'slow: 14') }]);
  // Tried on the winner's text, and its hypothesis keeps the parent's own (the tuner reads its moves back).
  assert.deepEqual(c.bases, { 's.js': BASE.replace('fast: 3', 'fast: 5') });
  assert.equal(c.proposal.hypothesis, 'combines the kept aaaaaaaa + bbbbbbbb: slow 9 -> 14 (s.js)');
  assert.equal(c.proposal.params, undefined);

  // The tuner's value set, read back from the merged file, so that it is never proposed again.
  winner.lesson.params = { 's.js:fast': 5, 's.js:slow': 9, 's.js:size': 0.5, 'o.py:k': 1 };
  assert.deepEqual(combine(winner, [other])!.proposal.params, { 's.js:fast': 5, 's.js:slow': 14, 's.js:size': 0.5, 'o.py:k': 1 });
});

test('a co-winner changing a line the winner changed is left out; the next one still joins', () => {
  const winner = kept('a', 'fast 3 -> 5', [edit('s.js', 'fast: 3', 'fast: 5')]);
  const same = kept('b', 'fast 3 -> 4', [edit('s.js', 'fast: 3', 'fast: 4')]);
  const size = kept('c', 'size 0.5 -> 0.7', [edit('s.js', 'size: 0.5', 'size: 0.7')]);
  assert.equal(combine(winner, [same]), undefined);
  const c = combine(winner, [same, size])!;
  assert.deepEqual(c.proposal.parents, ['a', 'c']);
  assert.equal((c.proposal.edits[0] as { content: string }).content, BASE.replace('fast: 3', 'fast: 5').replace('size: 0.5', 'size: 0.7'));
});

test('co-winners in other files join as their own file; created or deleted files stay apart', () => {
  const other = 'x = 1\ny = 2\n';
  const winner = kept('a', 'fast', [edit('s.js', 'fast: 3', 'fast: 5')]);
  const elsewhere = kept('b', 'y', [edit('o.py', 'y = 2', 'y = 3', other)]);
  const created = kept('c', 'new file', [{ path: 'n.js', before: null, after: 'x' }]);
  const c = combine(winner, [created, elsewhere])!;
  assert.deepEqual(c.proposal.parents, ['a', 'b']);
  assert.deepEqual(c.proposal.edits, [{ kind: 'file', path: 'o.py', content: 'x = 1\ny = 3\n' }]);
  assert.deepEqual(c.bases, { 'o.py': other });
});

test('insertions and removals merge when they touch different lines, and clash at the same place', () => {
  const winner = kept('a', 'insert after fast', [edit('s.js', '  fast: 3, // rsi: int 2..50\n', '  fast: 3, // rsi: int 2..50\n  // fast first\n')]);
  const removal = kept('b', 'drop size', [edit('s.js', '  size: 0.5, // rsi: 0.1..1\n', '')]);
  const atSamePlace = kept('c', 'insert after fast too', [edit('s.js', '  fast: 3, // rsi: int 2..50\n', '  fast: 3, // rsi: int 2..50\n  // other\n')]);
  const c = combine(winner, [atSamePlace, removal])!;
  assert.deepEqual(c.proposal.parents, ['a', 'b']);
  assert.equal((c.proposal.edits[0] as { content: string }).content, BASE.replace('  fast: 3, // rsi: int 2..50\n', '  fast: 3, // rsi: int 2..50\n  // fast first\n').replace('  size: 0.5, // rsi: 0.1..1\n', ''));
});
