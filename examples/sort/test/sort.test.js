// The gate: the sort must be correct whatever THRESHOLD is.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { sort } = require('../sort.js');

/** Checks sort() against the built-in sort on a copy. */
function check(input) {
  const expected = [...input].sort((a, b) => a - b);
  const copy = [...input];
  assert.equal(sort(copy), copy, 'sorts in place and returns the array');
  assert.deepEqual(copy, expected);
}

let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const random = (n, max = 1e9) => Array.from({ length: n }, () => Math.floor(rand() * max));

test('empty and single-element arrays', () => {
  check([]);
  check([7]);
});

test('random arrays of many sizes', () => {
  for (const n of [2, 3, 5, 16, 17, 63, 64, 65, 100, 1000, 10007]) check(random(n));
});

test('sorted and reversed arrays', () => {
  const a = random(5000).sort((x, y) => x - y);
  check(a);
  check([...a].reverse());
});

test('many duplicates', () => {
  check(random(5000, 10));
  check(new Array(1000).fill(3));
});

test('negative and fractional numbers', () => {
  check(Array.from({ length: 2000 }, () => (rand() - 0.5) * 1e6));
});
