import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lesson, Outcome } from '../../src/core/lessons';
import type { Proposal, ProposeContext } from '../../src/core/proposers/types';
import { applyValues, createTuner, findParameters, formatValue } from '../../src/core/proposers/tuner';
import { proposeContext } from '../proposeContext';

const STRATEGY = [
  'export const config = {',
  '  stopLoss: 0.03, // rsi: 0.005..0.1',
  '  takeProfit: 0.06,',
  '  "leverage": 3, // rsi: int 1..10 max leverage',
  '};',
  'const FAST = 5; // rsi: int 2..50',
  '',
].join('\n');

function context(files: Record<string, string>, over: Partial<ProposeContext> = {}) {
  return proposeContext(files, { metric: { name: 'pnl', direction: 'maximize' }, ...over });
}

/** A tuner lesson moving one parameter from -> to, in the tuner's own hypothesis format. */
function lesson(outcome: Outcome, file: string, name: string, from: number, to: number, params: Record<string, number>, proposer = 'tuner'): Lesson {
  return {
    v: 1, id: `l-${name}-${from}-${to}-${outcome}`, time: '2024-01-01T00:00:00Z', cycle: 1, proposer,
    hypothesis: `${name} ${from} -> ${to} (${file}): step`, files: [file], patch: '', patchHash: '', outcome,
    durationMs: 1, params: { ...params, [`${file}:${name}`]: to },
  };
}

/** The value a proposal gives `key`, read back from its file edit (not only from `params`). */
function proposed(p: Proposal, key: string): number {
  const [file] = key.split(':');
  const edit = p.edits.find((e) => e.path === file);
  assert.ok(edit && edit.kind === 'file');
  const param = findParameters(file!, edit.content).find((q) => q.key === key)!;
  assert.equal(param.value, p.params![key]);
  return param.value;
}

test('findParameters reads object literals, consts, quoted keys and the int flag', () => {
  const ps = findParameters('strategy.js', STRATEGY);
  assert.deepEqual(
    ps.map((p) => [p.key, p.name, p.line, p.value, p.lo, p.hi, p.int, p.literal]),
    [
      ['strategy.js:stopLoss', 'stopLoss', 2, 0.03, 0.005, 0.1, false, '0.03'],
      ['strategy.js:leverage', 'leverage', 4, 3, 1, 10, true, '3'],
      ['strategy.js:FAST', 'FAST', 6, 5, 2, 50, true, '5'],
    ],
  );
  for (const p of ps) assert.equal(STRATEGY.slice(p.start, p.end), p.literal);
});

test('findParameters reads Python, typed declarations, negative and exponent numbers', () => {
  const py = 'import x\nTHRESHOLD = 16 # rsi: int 2..64\nalpha: float = -0.5  # rsi: -1..-1e-2\nlr = 1e-3  # rsi: 1E-5..1e-1\n';
  const ps = findParameters('algo.py', py);
  assert.deepEqual(
    ps.map((p) => [p.name, p.value, p.lo, p.hi, p.int, py.slice(p.start, p.end)]),
    [
      ['THRESHOLD', 16, 2, 64, true, '16'],
      ['alpha', -0.5, -1, -0.01, false, '-0.5'],
      ['lr', 0.001, 1e-5, 0.1, false, '1e-3'],
    ],
  );
  const ts = findParameters('a.ts', 'export const WINDOW: number = 20; // rsi: int 5..200\n');
  assert.deepEqual(ts.map((p) => [p.name, p.value]), [['WINDOW', 20]]);
});

test('findParameters reports malformed annotations and skips them', () => {
  const text = [
    'a = 5 # rsi: 10..1',
    'b = 5 # rsi: int 1.5..9',
    'c = 5 * k # rsi: 1..10',
    'd = 50 # rsi: 1..10',
    'e = 2 # rsi: 1..3',
    'f = 2 # rsi:',
  ].join('\n');
  const reports: string[] = [];
  const ps = findParameters('m.py', text, (m) => reports.push(m));
  assert.deepEqual(ps.map((p) => p.name), ['d', 'e']);
  assert.equal(reports.length, 5);
  assert.match(reports[0]!, /m\.py:1: a: empty range 10\.\.1/);
  assert.match(reports[1]!, /m\.py:2: b: an int range needs integer bounds/);
  assert.match(reports[2]!, /m\.py:3: cannot read/);
  assert.match(reports[3]!, /m\.py:4: d = 50 is outside 1\.\.10/);
  assert.match(reports[4]!, /m\.py:6: cannot read/);
});

test('a repeated name in one file gets its own key', () => {
  const ps = findParameters('x.js', 'a = { n: 1, // rsi: int 0..9\n}\nb = { n: 2, // rsi: int 0..9\n}\n');
  assert.deepEqual(ps.map((p) => p.key), ['x.js:n', 'x.js:n#2']);
});

test('replacing values keeps every other byte of the file', () => {
  const text = 'x = {\r\n  stopLoss: 0.03,   // rsi: 0.005..0.1  keep me\r\n  n: 7, // rsi: int 1..9\r\n}\r\n';
  const [stop, n] = findParameters('s.js', text);
  const out = applyValues(text, [{ param: stop!, literal: '0.045' }, { param: n!, literal: '8' }]);
  assert.equal(out, text.replace('0.03', '0.045').replace('n: 7', 'n: 8'));
});

test('formatValue: ints as ints, floats without noise, floats stay floats, exponents stay exponents', () => {
  const float = { lo: 0, hi: 1, int: false, literal: '0.5' };
  assert.equal(formatValue(0.1 + 0.2, float), '0.3');
  assert.equal(formatValue(0.123456789, float), '0.1235');
  assert.equal(formatValue(1, float), '1.0');
  assert.equal(formatValue(7.6, { lo: 0, hi: 10, int: true, literal: '7' }), '8');
  assert.equal(formatValue(0.0015, { lo: 1e-5, hi: 0.1, int: false, literal: '1e-3' }), '1.5e-3');
  // A narrow range relative to the value keeps the digits that matter.
  assert.equal(formatValue(1000.3, { lo: 1000, hi: 1001, int: false, literal: '1000.5' }), '1000.3');
});

test('a proposal changes only the number in the file and records the full value set', async () => {
  const ctx = context({ 'strategy.js': STRATEGY, 'other.py': 'K = 3 # rsi: int 1..9\n' }, { count: 6 });
  const proposals = await createTuner().propose(ctx);
  assert.equal(proposals.length, 6);
  for (const p of proposals) {
    assert.equal(p.seed, 1);
    assert.deepEqual(Object.keys(p.params!).sort(), ['other.py:K', 'strategy.js:FAST', 'strategy.js:leverage', 'strategy.js:stopLoss']);
    assert.ok(p.edits.length >= 1 && p.edits.length <= 2);
    for (const e of p.edits) {
      assert.equal(e.kind, 'file');
      if (e.kind !== 'file') continue;
      const before = e.path === 'strategy.js' ? STRATEGY : 'K = 3 # rsi: int 1..9\n';
      // Same lines except the annotated values, whose rest of line is untouched.
      const a = before.split('\n');
      const b = e.content.split('\n');
      assert.equal(a.length, b.length);
      a.forEach((line, i) => {
        if (line !== b[i]) assert.equal(line.replace(/-?[\d.]+(?=[,;]? *(\/\/|#))/, 'N'), b[i]!.replace(/-?[\d.]+(?=[,;]? *(\/\/|#))/, 'N'));
      });
      for (const q of findParameters(e.path, e.content)) assert.equal(q.value, p.params![q.key]);
    }
    assert.match(p.hypothesis, /^\S+ \S+ -> \S+ \((strategy\.js|other\.py)\): step (up|down) \d+% of (log )?range; /);
  }
});

test('same seed gives the same proposals; a different seed gives different ones', async () => {
  const files = { 'strategy.js': STRATEGY };
  const a = await createTuner().propose(context(files, { seed: 42 }));
  const b = await createTuner().propose(context(files, { seed: 42 }));
  const c = await createTuner().propose(context(files, { seed: 43 }));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('never repeats a value set from the lessons or within a batch', async () => {
  const file = 'k.py';
  const text = 'K = 5 # rsi: int 0..20\n';
  // Every neighbour within 3 of the current value has been tried already, to no effect.
  const lessons = [1, 2, 3, 4, 6, 7, 8].map((to) => lesson('no-effect', file, 'K', 5, to, {}));
  for (let seed = 0; seed < 30; seed++) {
    const ps = await createTuner().propose(context({ [file]: text }, { seed, count: 5, lessons }));
    assert.equal(ps.length, 5);
    const values = ps.map((p) => proposed(p, 'k.py:K'));
    assert.equal(new Set(values).size, values.length, `seed ${seed}: repeat within the batch ${values}`);
    for (const v of values) assert.ok(![1, 2, 3, 4, 5, 6, 7, 8].includes(v), `seed ${seed}: repeated ${v}`);
  }
});

test('values stay within their ranges over many seeds, even from outside the range', async () => {
  const text = [
    'a = 0.099 # rsi: 0.005..0.1',
    'b = 3 # rsi: int 2..4',
    'c = -0.5 # rsi: -1..-0.01',
    'd = 1e-3 # rsi: 1e-6..1',
    'e = 99 # rsi: int 0..10',
  ].join('\n');
  const ranges = Object.fromEntries(findParameters('r.py', text).map((p) => [p.key, [p.lo, p.hi, p.int] as const]));
  for (let seed = 0; seed < 200; seed++) {
    for (const p of await createTuner().propose(context({ 'r.py': text }, { seed, count: 3 }))) {
      for (const q of findParameters('r.py', (p.edits[0] as { content: string }).content)) {
        if (p.params![q.key] === (q.key === 'r.py:e' ? 99 : undefined)) continue; // untouched out-of-range value
        const [lo, hi, int] = ranges[q.key]!;
        assert.ok(q.value >= lo && q.value <= hi, `seed ${seed}: ${q.key} = ${q.value} outside ${lo}..${hi}`);
        if (int) assert.ok(Number.isInteger(q.value));
      }
    }
  }
});

test("after a 'kept' move up, the next proposal moves up again", async () => {
  const files = { 's.js': 'const X = 10; // rsi: 0..100\n' };
  const lessons = [lesson('kept', 's.js', 'X', 8, 10, {})];
  for (let seed = 0; seed < 20; seed++) {
    const [p] = await createTuner().propose(context(files, { seed, count: 1, lessons }));
    assert.ok(proposed(p!, 's.js:X') > 10, `seed ${seed}: ${p!.hypothesis}`);
    assert.match(p!.hypothesis, /step up .*last move up helped/);
  }
});

test("after a 'regressed' move up, the next proposal moves down, with a smaller step", async () => {
  const files = { 's.js': 'const X = 50; // rsi: 0..100\n' };
  const lessons = [lesson('regressed', 's.js', 'X', 50, 70, {})];
  const fresh: number[] = [];
  const after: number[] = [];
  for (let seed = 0; seed < 20; seed++) {
    const [p] = await createTuner().propose(context(files, { seed, count: 1, lessons }));
    const x = proposed(p!, 's.js:X');
    assert.ok(x < 50, `seed ${seed}: ${p!.hypothesis}`);
    assert.match(p!.hypothesis, /step down .*last move up regressed/);
    after.push(50 - x);
    const [q] = await createTuner().propose(context(files, { seed, count: 1 }));
    fresh.push(Math.abs(proposed(q!, 's.js:X') - 50));
  }
  // Halved step: 10% of the range, jittered 0.5..1.5, so never beyond 15; fresh steps (20%) reach beyond.
  assert.ok(Math.max(...after) <= 15, `${after}`);
  assert.ok(Math.max(...fresh) > 15);
});

test('a failed move fences off that region; parameters that helped are preferred', async () => {
  const files = { 's.js': 'a = 50; // rsi: 0..100\nb = 50; // rsi: 0..100\n' };
  const crashed = [lesson('crashed', 's.js', 'a', 50, 60, { 's.js:b': 50 })];
  for (let seed = 0; seed < 20; seed++) {
    for (const p of await createTuner().propose(context(files, { seed, count: 3, lessons: crashed }))) {
      assert.ok(p.params!['s.js:a']! < 60, `seed ${seed}: ${p.hypothesis}`);
    }
  }
  const helped = [lesson('kept', 's.js', 'a', 45, 50, { 's.js:b': 50 }), lesson('kept', 's.js', 'a', 40, 45, { 's.js:b': 50 })];
  let movedA = 0;
  let movedB = 0;
  for (let seed = 0; seed < 50; seed++) {
    for (const p of await createTuner().propose(context(files, { seed, count: 2, lessons: helped }))) {
      if (p.params!['s.js:a'] !== 50) movedA++;
      if (p.params!['s.js:b'] !== 50) movedB++;
    }
  }
  assert.ok(movedA > 2 * movedB, `a moved ${movedA}, b moved ${movedB}`);
});

test('a tiny int range runs out: fewer proposals, a log line, no hang', async () => {
  const ctx = context({ 't.py': 'N = 2 # rsi: int 1..3\n' }, { count: 5 });
  const ps = await createTuner().propose(ctx);
  assert.deepEqual(ps.map((p) => p.params!['t.py:N']).sort(), [1, 3]);
  assert.ok(ctx.logs.some((m) => /proposing 2 of 5: no untried value set/.test(m)), ctx.logs.join('\n'));
  // With both neighbours already in the lessons there is nothing left at all.
  const lessons = [lesson('regressed', 't.py', 'N', 2, 1, {}), lesson('no-effect', 't.py', 'N', 2, 3, {})];
  const none = await createTuner().propose(context({ 't.py': 'N = 2 # rsi: int 1..3\n' }, { count: 3, lessons }));
  assert.deepEqual(none, []);
});

test('no annotated parameters: returns [] and says how to annotate', async () => {
  const ctx = context({ 'plain.js': 'const x = 5;\n' });
  assert.deepEqual(await createTuner().propose(ctx), []);
  assert.equal(ctx.logs.length, 1);
  assert.match(ctx.logs[0]!, /no annotated parameters/);
  assert.match(ctx.logs[0]!, /\/\/ rsi: 0\.005\.\.0\.1/);
  assert.match(ctx.logs[0]!, /# rsi: int 2\.\.64/);
});

/** The values a batch of proposals gives `key`, over several seeds. */
async function valuesOver(files: Record<string, string>, key: string, lessons: Lesson[], seeds = 20, count = 3): Promise<number[]> {
  const values: number[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    for (const p of await createTuner().propose(context(files, { seed, count, lessons }))) values.push(proposed(p, key));
  }
  return values;
}

test('a move toward a bound already tried stops short of it instead of clamping to it', async () => {
  const files = { 's.js': 'const X = 90; // rsi: 0..100\n' };
  // Up helped, then up again to the bound did nothing: the bound is tried, the space below it is not.
  const lessons = [lesson('kept', 's.js', 'X', 80, 90, {}), lesson('no-effect', 's.js', 'X', 90, 100, {})];
  const values = await valuesOver(files, 's.js:X', lessons, 20, 1);
  assert.ok(!values.includes(100), `${values}`);
  assert.ok(values.every((v) => v > 80), `never back past the worse baseline 80: ${values}`);
  assert.ok(values.filter((v) => v > 90 && v < 100).length >= 15, `mostly up, short of the bound: ${values}`);
});

test('between a worse value below and a regression above, moves stay inside the bracket', async () => {
  const files = { 's.js': 'const X = 50; // rsi: 0..100\n' };
  const lessons = [lesson('kept', 's.js', 'X', 40, 50, {}), lesson('regressed', 's.js', 'X', 50, 70, {})];
  const values = await valuesOver(files, 's.js:X', lessons);
  assert.ok(values.length > 0 && values.every((v) => v > 40 && v < 50), `${values}`);
});

test('a long move that regressed bounds that side without closing it', async () => {
  const files = { 's.js': 'const X = 50; // rsi: 0..100\n' };
  const lessons = [lesson('regressed', 's.js', 'X', 50, 70, {}), lesson('regressed', 's.js', 'X', 50, 30, {})];
  const values = await valuesOver(files, 's.js:X', lessons);
  // Down regressed last, so up is the way to go: still open, short of the worse 70.
  assert.ok(values.length > 0 && values.every((v) => v > 50 && v < 70), `${values}`);
});

test('a parameter that regressed both ways (short moves) rests, until another parameter or its file changes', async () => {
  const files = { 's.js': 'a = 50; // rsi: 0..100\nb = 50; // rsi: 0..100\n' };
  const both = [lesson('regressed', 's.js', 'a', 50, 53, { 's.js:b': 50 }), lesson('regressed', 's.js', 'a', 50, 48, { 's.js:b': 50 })];
  const ctx = context(files, { count: 4, lessons: both });
  for (const p of await createTuner().propose(ctx)) assert.equal(p.params!['s.js:a'], 50, p.hypothesis);
  assert.ok(ctx.logs.some((m) => /s\.js:a rests at 50 \(regressed both ways\)/.test(m)), ctx.logs.join('\n'));

  // Another parameter was kept since: b is no longer where a was tried, so a moves again.
  const movedB = { 's.js': 'a = 50; // rsi: 0..100\nb = 58; // rsi: 0..100\n' };
  const woken = await valuesOver(movedB, 's.js:a', [...both, lesson('kept', 's.js', 'b', 50, 58, { 's.js:a': 50 })]);
  assert.ok(woken.some((v) => v !== 50), `${woken}`);

  // Another proposer's kept change to the file: the ground changed too.
  const edited = await valuesOver(files, 's.js:a', [...both, { ...lesson('kept', 's.js', 'x', 0, 1, {}, 'command'), hypothesis: 'inline the loop' }]);
  assert.ok(edited.some((v) => v !== 50), `${edited}`);
});

test('at a bound, one regression the other way is enough to rest; with everything at rest nothing is proposed', async () => {
  const files = { 's.js': 'const X = 100; // rsi: 0..100\n' };
  const ctx = context(files, { count: 3, lessons: [lesson('regressed', 's.js', 'X', 100, 97, {})] });
  assert.deepEqual(await createTuner().propose(ctx), []);
  assert.ok(ctx.logs.some((m) => /X rests at 100 \(regressed down, at the bound the other way\)/.test(m)), ctx.logs.join('\n'));
  assert.ok(ctx.logs.some((m) => /every parameter rests/.test(m)), ctx.logs.join('\n'));
});

test('each parameter keeps its own step: repeated no-effect widens one, not the other', async () => {
  const files = { 's.js': 'a = 50; // rsi: 0..100\nb = 50; // rsi: 0..100\n' };
  const lessons = [lesson('no-effect', 's.js', 'a', 50, 55, { 's.js:b': 50 }), lesson('no-effect', 's.js', 'a', 50, 47, { 's.js:b': 50 })];
  const stepsA: number[] = [];
  const stepsB: number[] = [];
  for (let seed = 0; seed < 40; seed++) {
    for (const p of await createTuner().propose(context(files, { seed, count: 2, lessons }))) {
      const a = Math.abs(p.params!['s.js:a']! - 50);
      const b = Math.abs(p.params!['s.js:b']! - 50);
      if (a > 0 && b === 0) stepsA.push(a);
      if (b > 0 && a === 0) stepsB.push(b);
    }
  }
  // a's step doubled twice (capped at half the range, jittered by 0.5..1.5): at least 25; b's is a fresh 20% (at most 30).
  assert.ok(stepsA.length > 0 && stepsA.every((d) => d >= 25), `${stepsA}`);
  assert.ok(stepsB.length > 0 && stepsB.every((d) => d <= 30), `${stepsB}`);
});

test('a log scale only for a range spanning two decades or more, and the hypothesis says so', async () => {
  const wide = await createTuner().propose(context({ 'a.py': 'lr = 1e-3  # rsi: 1e-5..1e-1\n' }, { count: 3 }));
  for (const p of wide) assert.match(p.hypothesis, /% of log range; .*log scale: 0\.00001\.\.0\.1 spans 4\.0 decades/);
  const narrow = await createTuner().propose(context({ 'a.py': 'stop = 0.03  # rsi: 0.005..0.1\n' }, { count: 3 }));
  for (const p of narrow) assert.doesNotMatch(p.hypothesis, /log/);
});

test("a move that won on the metric but failed a guard is reversed like a regression, and counts toward rest", async () => {
  const files = { 's.js': 'const X = 50; // rsi: 0..100\n' };
  const lessons = [lesson('guard-failed', 's.js', 'X', 50, 70, {})];
  for (let seed = 0; seed < 10; seed++) {
    const [p] = await createTuner().propose(context(files, { seed, count: 1, lessons }));
    assert.ok(proposed(p!, 's.js:X') < 50, `seed ${seed}: ${p!.hypothesis}`);
    assert.match(p!.hypothesis, /step down .*last move up worsened a guard/);
  }
  const both = [lesson('guard-failed', 's.js', 'X', 50, 53, {}), lesson('regressed', 's.js', 'X', 50, 48, {})];
  const ctx = context(files, { count: 2, lessons: both });
  assert.deepEqual(await createTuner().propose(ctx), []);
  assert.ok(ctx.logs.some((m) => /s\.js:X rests at 50/.test(m)), ctx.logs.join('\n'));
});
