import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureExcerpt, firstLines } from '../../src/core/text';

test('firstLines skips blank lines and keeps the first ones', () => {
  assert.equal(firstLines('a\n\n b\nc\nd', 3), 'a\n b\nc');
});

test('a failure excerpt puts the failing lines first, so many passing tests cannot hide them', () => {
  const passing = Array.from({ length: 30 }, (_, i) => `ok ${i + 1} - test ${i + 1}`);
  const output = [...passing, 'not ok 31 - fast < slow', '  error: 12 >= 9', '# fail 1'].join('\n');
  const excerpt = failureExcerpt(output, 5).split('\n');
  assert.deepEqual(excerpt.slice(0, 3), ['not ok 31 - fast < slow', '  error: 12 >= 9', '# fail 1']);
  assert.equal(excerpt.length, 5);
});
