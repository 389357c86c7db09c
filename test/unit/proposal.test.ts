import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLessons } from '../../src/core/lessons';
import { applyProposal, PROPOSAL_FILE, saveProposal } from '../../src/core/proposal';

function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rsi-proposal-'));
  for (const [rel, text] of Object.entries(files)) writeFileSync(join(dir, rel), text);
  return dir;
}

test('apply creates, edits and deletes files as proposed, and a file already written counts as applied', async () => {
  const dir = workspace({ 'a.js': 'a = 1\n', 'b.js': 'b = 2\n', 'gone.js': 'old\n' });
  await saveProposal(dir, {
    changes: [
      { path: 'a.js', before: 'a = 0\n', after: 'a = 1\n' }, // written already, by an apply that stopped half-way
      { path: 'b.js', before: 'b = 2\n', after: 'b = 3\n' },
      { path: 'new.js', before: null, after: 'new\n' },
      { path: 'gone.js', before: 'old\n', after: null },
    ],
    patch: '',
    lessons: ['w1'],
  });
  assert.deepEqual(await applyProposal(dir), { ok: true, files: ['a.js', 'b.js', 'new.js', 'gone.js'], lessons: ['w1'] });
  assert.equal(readFileSync(join(dir, 'b.js'), 'utf8'), 'b = 3\n');
  assert.equal(readFileSync(join(dir, 'new.js'), 'utf8'), 'new\n');
  assert.equal(existsSync(join(dir, 'gone.js')), false);
  assert.equal(existsSync(join(dir, PROPOSAL_FILE)), false);
  assert.equal((await readLessons(dir)).verdicts.get('w1'), 'accepted');
});

test('a proposal file that names a path outside the workspace is refused, and nothing is written', async () => {
  const dir = workspace({});
  mkdirSync(join(dir, '.rsi'));
  const escape = { v: 1, time: '', patch: '', lessons: ['w1'], changes: [{ path: '../outside.js', before: null, after: 'x' }] };
  writeFileSync(join(dir, PROPOSAL_FILE), JSON.stringify(escape));
  const result = await applyProposal(dir);
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.reason : '', /cannot be read: delete it/);
  assert.equal(existsSync(join(dir, '..', 'outside.js')), false);
});
