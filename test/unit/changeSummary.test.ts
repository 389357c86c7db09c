import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTwoFilesPatch } from 'diff';
import { changeSummary } from '../../src/vscode/changeSummary';

const patch = (before: string, after: string) => createTwoFilesPatch('a/s.js', 'b/s.js', before, after);
const LONG = 'fast 3 -> 4 (strategy.js): kept twice in this direction, so a step of the same size again';

test('a lesson leads with the values it moved, named by their key', () => {
  assert.equal(changeSummary({ patch: patch('  fast: 3, // rsi: int 2..50\n', '  fast: 4, // rsi: int 2..50\n'), hypothesis: LONG }), 'fast 3 → 4');
  // Whole numbers, not the digits after a shared "0.".
  assert.equal(changeSummary({ patch: patch('x\nconst STOP = 0.5; // rsi: 0.1..1\n', 'x\nconst STOP = 0.6202; // rsi: 0.1..1\n'), hypothesis: LONG }), 'STOP 0.5 → 0.6202');
  const three = patch('a = 1\nb = 2\nc = 3\n', 'a = 5\nb = 6\nc = 7\n');
  assert.equal(changeSummary({ patch: three, hypothesis: LONG }), 'a 1 → 5, b 2 → 6 +1 more');
});

test('a change that is not a value, or no patch, falls back to the first line of the hypothesis, shortened', () => {
  const rewrite = patch('function f() {\n  return slow();\n}\n', 'function f() {\n  const cache = new Map();\n  return fast(cache);\n}\n');
  assert.equal(changeSummary({ patch: rewrite, hypothesis: 'Cache the lookups\nbecause...' }), 'Cache the lookups');
  assert.equal(changeSummary({ patch: '', hypothesis: LONG }).length, 80);
  assert.match(changeSummary({ patch: '', hypothesis: LONG }), /^fast 3 → 4 \(strategy\.js\)/);
});
