import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appendRecords, parseLessons, readLessons, readVerdicts, streamLessons, type Lesson } from '../../src/core/lessons';

function lesson(id: string): Lesson {
  return { v: 1, id, time: '2026-01-01T00:00:00Z', cycle: 1, proposer: 'tuner', hypothesis: 'h', files: ['a.js'], patch: '', patchHash: 'x', outcome: 'no-effect', durationMs: 1 };
}

test('a torn last line is skipped silently; a bad line in the middle is reported', () => {
  const good = JSON.stringify(lesson('a'));
  const log = parseLessons(`${good}\nnot json\n${JSON.stringify(lesson('b'))}\n{"v":1,"id":"c","ti`);
  assert.deepEqual(log.lessons.map((l) => l.id), ['a', 'b']);
  assert.deepEqual(log.skipped, [2]);
});

test('verdicts are separate records, the latest wins', () => {
  const text = [lesson('a'), { v: 1, type: 'verdict', lesson: 'a', verdict: 'rejected' }, { v: 1, type: 'verdict', lesson: 'a', verdict: 'accepted' }]
    .map((r) => JSON.stringify(r)).join('\n');
  const log = parseLessons(text);
  assert.equal(log.lessons.length, 1);
  assert.equal(log.verdicts.get('a'), 'accepted');
});

test('appending after a torn line starts a fresh line, so the new record survives', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-lessons-'));
  await appendRecords(dir, [lesson('a')]);
  await fs.appendFile(path.join(dir, '.rsi/lessons.jsonl'), '{"v":1,"id":"to');
  await appendRecords(dir, [lesson('b')]);
  const log = await readLessons(dir);
  assert.deepEqual(log.lessons.map((l) => l.id), ['a', 'b']);
  assert.deepEqual(log.skipped, [2]);
});

test('a workspace without lessons reads as empty', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-lessons-'));
  assert.deepEqual((await readLessons(dir)).lessons, []);
});

test('records of the wrong shape are skipped and reported, never handed to a reader', () => {
  const lines = [
    lesson('a'),
    { ...lesson('b'), cycle: 'three' },
    { ...lesson('c'), outcome: 'won' },
    { ...lesson('d'), metric: { change: 'big' } },
    { v: 1, type: 'verdict', lesson: 'a', verdict: 'maybe' },
    [1, 2],
    lesson('e'),
  ].map((r) => JSON.stringify(r));
  const log = parseLessons(lines.join('\n'));
  assert.deepEqual(log.lessons.map((l) => l.id), ['a', 'e']);
  assert.deepEqual(log.skipped, [2, 3, 4, 5, 6]);
  assert.equal(log.verdicts.size, 0);
});

test('streamLessons hands over each lesson with its line and collects verdicts and skipped lines', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-lessons-'));
  await appendRecords(dir, [lesson('a'), { v: 1, type: 'verdict', lesson: 'a', verdict: 'accepted' }]);
  await fs.appendFile(path.join(dir, '.rsi/lessons.jsonl'), '{"v":1,"id":"x","cycle":null}\n');
  await appendRecords(dir, [lesson('b')]);
  const seen: string[] = [];
  const result = await streamLessons(dir, (l, line) => void seen.push(`${l.id}:${JSON.parse(line).id}`));
  assert.deepEqual(seen, ['a:a', 'b:b']);
  assert.equal(result.verdicts.get('a'), 'accepted');
  assert.deepEqual(result.skipped, [3]);
  assert.equal((await readVerdicts(dir)).get('a'), 'accepted');
});

test('a guard-failed lesson with its guards reads back; guards of the wrong shape are skipped, never handed to a reader', () => {
  const guard = { name: 'oos', direction: 'maximize', baseline: { median: -1, n: 6 }, candidate: { median: -1.2, n: 6 }, change: -0.2, ci: [-0.2, -0.2], p: 0, tolerance: 0.05, passed: false };
  const good = { ...lesson('a'), outcome: 'guard-failed', guards: [guard] };
  const bad = { ...lesson('b'), outcome: 'guard-failed', guards: [{ ...guard, ci: [-0.2] }] };
  const log = parseLessons([good, bad, lesson('c')].map((r) => JSON.stringify(r)).join('\n'));
  assert.deepEqual(log.lessons.map((l) => [l.id, l.outcome]), [['a', 'guard-failed'], ['c', 'no-effect']]);
  assert.deepEqual(log.lessons[0]!.guards, [guard]);
  assert.deepEqual(log.skipped, [2]);
});
