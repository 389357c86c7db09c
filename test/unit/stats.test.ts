import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  median, isConstant, mannWhitney, hodgesLehmann, compare, judge,
  type SamplingPolicy, type Verdict,
} from '../../src/core/stats';
import { seededRandom } from '../../src/core/random';

// --- simulation helpers ----------------------------------------------------------------------

/** A timing-like sample: normal with the given CV, plus a 5% chance of a GC-pause-like outlier. */
function timing(rand: () => number, mean: number, cv: number): number {
  const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const gc = rand() < 0.05 ? mean * (0.3 + rand()) : 0;
  return mean * (1 + cv * z) + gc;
}

/** Run judge pair by pair, interleaved, exactly as the runner would. */
function sequential(rand: () => number, meanA: number, meanB: number, cv: number, policy: SamplingPolicy) {
  const a: number[] = [], b: number[] = [];
  for (;;) {
    a.push(timing(rand, meanA, cv));
    b.push(timing(rand, meanB, cv));
    const r = judge(a, b, policy);
    if (r.done) return { verdict: r.verdict, n: a.length };
    assert.ok(a.length <= policy.maxRuns, 'judge must stop at maxRuns');
  }
}

function trials(count: number, seed: number, meanA: number, meanB: number, cv: number, policy: SamplingPolicy) {
  const rand = seededRandom(seed);
  const verdicts: Record<Verdict, number> = { better: 0, worse: 0, same: 0 };
  let runs = 0;
  for (let i = 0; i < count; i++) {
    const r = sequential(rand, meanA, meanB, cv, policy);
    verdicts[r.verdict]++;
    runs += r.n;
  }
  return { ...verdicts, meanRuns: runs / count };
}

const timePolicy: SamplingPolicy = { minRuns: 5, maxRuns: 30, alpha: 0.05, noiseFloor: 0.02, direction: 'minimize' };

// --- basics ----------------------------------------------------------------------------------

test('median and isConstant', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), 0);
  assert.equal(isConstant([7, 7, 7]), true);
  assert.equal(isConstant([7, 7.0001]), false);
  assert.equal(isConstant([5]), true);
});

// --- hand-computed cases (checked against scipy.stats.mannwhitneyu) -------------------------

test('mannWhitney exact p without ties', () => {
  // Complete separation, 3 vs 3: U = 0, only 1 of C(6,3) = 20 arrangements per tail: p = 2/20.
  assert.deepEqual(mannWhitney([1, 2, 3], [4, 5, 6]), { u: 0, p: 0.1 });
  // 5 vs 5: p = 2 / C(10,5) = 2/252.
  const r = mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
  assert.equal(r.u, 0);
  assert.ok(Math.abs(r.p - 2 / 252) < 1e-12);
  // Symmetric: swapping sides gives U' = n1*n2 - U, same p.
  assert.deepEqual(mannWhitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]), { u: 25, p: r.p });
  // Interleaved 4 vs 4: pairs a > b are (2.5>2.0, 3.3>2.0, 4.0>2.0, 4.0>3.9) -> U = 4;
  // P(U <= 4) = 12/70 (partitions of 0..4 into at most 4 parts <= 4), p = 24/70.
  const s = mannWhitney([1.1, 2.5, 3.3, 4.0], [2.0, 3.9, 5.0, 6.1]);
  assert.equal(s.u, 4);
  assert.ok(Math.abs(s.p - 24 / 70) < 1e-12);
});

test('mannWhitney with ties uses tie-corrected normal approximation', () => {
  // a=[1,2,3], b=[2,3,4]: U = 0 + 0.5 + 1.5 = 2; two tie pairs -> sum(t^3-t) = 12;
  // var = 9/12 * (7 - 12/30) = 4.95; z = (|2 - 4.5| - 0.5)/sqrt(4.95) = 0.8989; p = 0.36869.
  const r = mannWhitney([1, 2, 3], [2, 3, 4]);
  assert.equal(r.u, 2);
  assert.ok(Math.abs(r.p - 0.368688) < 1e-5, `p=${r.p}`);
  const q = mannWhitney([1, 2, 2, 3, 5], [2, 4, 4, 6, 7]);
  assert.equal(q.u, 5);
  assert.ok(Math.abs(q.p - 0.137564) < 1e-5, `p=${q.p}`);
  // Everything tied: no evidence at all.
  assert.deepEqual(mannWhitney([2, 2, 2], [2, 2]), { u: 3, p: 1 });
});

test('hodgesLehmann shift and distribution-free CI', () => {
  // Differences b - a for a=1..4, b=5..8: 1,2,2,3,3,3,4,4,4,4,5,5,5,6,6,7; median 4.
  // 90%: P(U<=1) = 2/70 <= 0.05 < P(U<=2) = 4/70, so k = 2: [D2, D15] = [2, 6].
  assert.deepEqual(hodgesLehmann([1, 2, 3, 4], [5, 6, 7, 8], 0.9), { shift: 4, lo: 2, hi: 6 });
  // 95%: P(U<=0) = 1/70 <= 0.025 < P(U<=1), so k = 1: [D1, D16] = [1, 7].
  assert.deepEqual(hodgesLehmann([1, 2, 3, 4], [5, 6, 7, 8]), { shift: 4, lo: 1, hi: 7 });
  // Robust to an outlier where the difference of means is not.
  const h = hodgesLehmann([10, 11, 12, 13, 1000], [20, 21, 22, 23, 24]);
  assert.equal(h.shift, 10);
  assert.ok(h.lo <= 10 && h.hi >= 10);
  // Sign: b below a gives a negative shift.
  assert.equal(hodgesLehmann([5, 6, 7, 8], [1, 2, 3, 4]).shift, -4);
});

test('degenerate inputs never produce NaN', () => {
  const finite = (x: unknown) => JSON.stringify(x).includes('null') === false;
  for (const [a, b] of [[[], []], [[], [1, 2]], [[1], [2]], [[0], [0]], [[0, 0], [1, 1]], [[1, 5], [3]]] as number[][][]) {
    assert.ok(finite(mannWhitney(a!, b!)), `mannWhitney ${a} ${b}`);
    assert.ok(finite(hodgesLehmann(a!, b!)), `hodgesLehmann ${a} ${b}`);
    assert.ok(finite(compare(a!, b!)), `compare ${a} ${b}`);
    assert.ok(finite(judge(a!, b!, timePolicy)), `judge ${a} ${b}`);
  }
  // Baseline median 0: absolute change.
  const c = compare([0, 0, 0], [2, 2, 2]);
  assert.equal(c.change, 2);
  // n = 1 with spread on one side: not enough to decide.
  assert.equal(judge([1, 5], [3], timePolicy).done, false);
});

test('compare reports a signed relative change', () => {
  const c = compare([100, 101, 99, 100, 102, 98], [90, 91, 89, 90, 92, 88]);
  assert.ok(Math.abs(c.change - -0.1) < 1e-9);
  assert.ok(c.ci[0] < c.change && c.change < c.ci[1]);
  assert.equal(c.baseline.median, 100);
  assert.equal(c.candidate.n, 6);
  assert.ok(c.p < 0.01);
});

// --- sequential judging ----------------------------------------------------------------------

test('identical distributions are essentially never kept (500 sequential trials)', () => {
  // Noise floor 0: only the alpha control across repeated looks protects us here.
  const raw = trials(500, 1, 200, 200, 0.05, { ...timePolicy, noiseFloor: 0 });
  console.log(`false-keep rate, floor 0: ${(raw.better / 5).toFixed(1)}% (worse ${raw.worse}, mean runs ${raw.meanRuns.toFixed(1)})`);
  assert.ok(raw.better / 500 < 0.02, `better ${raw.better}/500`);
  // With the usual 2% floor as well.
  const floored = trials(500, 2, 200, 200, 0.05, timePolicy);
  console.log(`false-keep rate, floor 2%: ${(floored.better / 5).toFixed(1)}% (mean runs ${floored.meanRuns.toFixed(1)})`);
  assert.ok(floored.better / 500 < 0.02, `better ${floored.better}/500`);
});

test('a clear 10% improvement is kept, usually early (200 trials, 5% CV)', () => {
  const r = trials(200, 3, 200, 180, 0.05, timePolicy);
  console.log(`power: ${(r.better / 2).toFixed(1)}% better, mean runs per side ${r.meanRuns.toFixed(1)} of ${timePolicy.maxRuns}`);
  assert.ok(r.better / 200 >= 0.95, `better ${r.better}/200`);
  assert.ok(r.meanRuns < timePolicy.maxRuns / 2, `mean runs ${r.meanRuns}`);
});

test('a significant shift smaller than the noise floor is not "better"', () => {
  // 1% gain with 0.5% CV is easily significant, but below the 2% floor.
  const rand = seededRandom(4);
  let better = 0, significant = 0;
  for (let i = 0; i < 100; i++) {
    const a: number[] = [], b: number[] = [];
    for (let j = 0; j < 30; j++) { a.push(200 * (1 + 0.005 * (rand() - 0.5) * 3.4)); b.push(198 * (1 + 0.005 * (rand() - 0.5) * 3.4)); }
    const r = judge(a, b, timePolicy);
    if (r.comparison.p < 0.001) significant++;
    if (r.verdict === 'better') better++;
    assert.equal(r.done, true);
  }
  assert.ok(significant > 90, `significant ${significant}`);
  assert.equal(better, 0);
  // And sequentially it stops early with "same" once the CI sits inside the floor.
  const s = trials(100, 5, 200, 198, 0.005, timePolicy);
  assert.equal(s.better, 0);
  assert.ok(s.meanRuns < timePolicy.maxRuns, `mean runs ${s.meanRuns}`);
});

test('direction flips the verdict', () => {
  const a = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101];
  const b = a.map((x) => x * 1.2);
  const up = judge(a, b, { ...timePolicy, minRuns: 10, maxRuns: 10, direction: 'maximize' });
  const down = judge(a, b, { ...timePolicy, minRuns: 10, maxRuns: 10, direction: 'minimize' });
  assert.deepEqual([up.done, up.verdict], [true, 'better']);
  assert.deepEqual([down.done, down.verdict], [true, 'worse']);
  // A clear regression stops early as "worse" in sequential runs too.
  const r = trials(50, 6, 200, 240, 0.05, timePolicy);
  assert.ok(r.worse >= 48 && r.better === 0, JSON.stringify(r));
});

test('deterministic metric decides at n=1 per side when known, at 2 otherwise', () => {
  const known = { ...timePolicy, deterministic: true };
  assert.deepEqual(pick(judge([100], [90], known)), [true, 'better', 0]);
  assert.deepEqual(pick(judge([100], [110], known)), [true, 'worse', 0]);
  assert.deepEqual(pick(judge([100], [99], known)), [true, 'same', 0]); // 1% < 2% floor
  assert.deepEqual(pick(judge([100], [100], known)), [true, 'same', 1]);
  assert.deepEqual(pick(judge([100], [99.9], { ...known, noiseFloor: 0 })), [true, 'better', 0]); // floor 0: any change
  assert.deepEqual(pick(judge([0], [-1], known)), [true, 'better', 0]); // baseline 0: absolute change
  // Not known: one pair says nothing about spread, so ask for a second.
  assert.equal(judge([100], [90], timePolicy).done, false);
  assert.deepEqual(pick(judge([100, 100], [90, 90], timePolicy)), [true, 'better', 0]);
  // Spread on one side: back to the statistical path.
  assert.equal(judge([100, 101], [90, 90], timePolicy).done, false);
});

function pick(r: ReturnType<typeof judge>) {
  return [r.done, r.verdict, r.comparison.p];
}
