import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeGuard, type GuardPolicy, type Verdict } from '../../src/core/stats';
import { seededRandom } from '../../src/core/random';

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** One interleaved pair of a noisy positive guard (a latency, a peak RSS): log-normal with this CV and a machine state shared by the pair. */
function pair(rand: () => number, meanA: number, meanB: number, cv: number): [number, number] {
  const shared = Math.exp(0.5 * cv * normal(rand));
  return [meanA * shared * Math.exp(cv * normal(rand)), meanB * shared * Math.exp(cv * normal(rand))];
}

/** judgeGuard pair by pair, as the runner calls it. */
function sequential(rand: () => number, meanA: number, meanB: number, cv: number, policy: GuardPolicy) {
  const a: number[] = [], b: number[] = [];
  for (;;) {
    const [x, y] = pair(rand, meanA, meanB, cv);
    a.push(x);
    b.push(y);
    const decision = judgeGuard(a, b, policy);
    if (decision.done) return { ...decision, n: a.length };
    assert.ok(a.length < policy.maxRuns, 'a guard decision stops at maxRuns');
  }
}

function failures(count: number, seed: number, meanA: number, meanB: number, cv: number, policy: GuardPolicy): number {
  const rand = seededRandom(seed);
  let failed = 0;
  for (let i = 0; i < count; i++) if (sequential(rand, meanA, meanB, cv, policy).verdict === 'worse') failed++;
  return failed;
}

/** A latency guard: smaller is better, 5% tolerance, the default sampling. */
const latency: GuardPolicy = { minRuns: 5, maxRuns: 20, alpha: 0.05, direction: 'minimize', tolerance: 0.05 };

test('a guard clearly worse beyond its tolerance fails; one within its tolerance passes', () => {
  // 30% slower with 3% noise: the interval lies wholly beyond +5%.
  assert.equal(failures(50, 1, 100, 130, 0.03, latency), 50);
  // 2% slower, inside the 5% tolerance: never shown beyond it.
  assert.equal(failures(200, 2, 100, 102, 0.03, latency), 0);
  // Better is never a failure, however much.
  assert.equal(failures(50, 3, 100, 60, 0.03, latency), 0);
});

test('A/A: a guard that did not change is failed at most alpha of the time (simulated), even at tolerance 0', () => {
  const strict = { ...latency, tolerance: 0 };
  const trials = 2000;
  for (const [seed, cv] of [[11, 0.02], [12, 0.1], [13, 0.3]] as const) {
    const failed = failures(trials, seed, 100, 100, cv, strict);
    assert.ok(failed / trials <= strict.alpha, `cv ${cv}: ${failed} of ${trials} A/A guards failed, more than alpha`);
  }
});

test('a loss exactly at the tolerance is failed at most alpha of the time: the burden of proof is on failing', () => {
  const trials = 1000;
  const failed = failures(trials, 21, 100, 105, 0.05, latency);
  assert.ok(failed / trials <= latency.alpha, `${failed} of ${trials} failed`);
});

test('a deterministic guard is decided exactly, by its change against the tolerance', () => {
  const score: GuardPolicy = { minRuns: 5, maxRuns: 20, alpha: 0.05, direction: 'maximize', tolerance: 0.05 };
  const decide = (base: number, cand: number) => {
    const a: number[] = [], b: number[] = [];
    for (;;) {
      a.push(base);
      b.push(cand);
      const d = judgeGuard(a, b, score);
      if (d.done) return { verdict: d.verdict, n: a.length, change: d.comparison.change, ci: d.comparison.ci };
    }
  };
  // A negative score (a Sharpe ratio) is compared relative to |baseline|: -1 -> -1.2 is -20%.
  const worse = decide(-1, -1.2);
  assert.equal(worse.verdict, 'worse');
  assert.ok(Math.abs(worse.change + 0.2) < 1e-12 && worse.ci[0] === worse.ci[1], `exact change, got ${worse.change} [${worse.ci}]`);
  assert.ok(worse.n < score.maxRuns, `decided before the cap (${worse.n} pairs)`);
  assert.equal(decide(-1, -1.04).verdict, 'same', 'a 4% loss is within 5%');
  assert.equal(decide(2, 2).verdict, 'same');
  assert.equal(decide(2, 3).verdict, 'same');
});

test('the verdict never contradicts the interval it reports', () => {
  const rand = seededRandom(31);
  for (let i = 0; i < 300; i++) {
    const shift = 1 + (rand() - 0.3) * 0.4;
    const { verdict, comparison } = sequential(rand, 100, 100 * shift, 0.05, latency);
    const bestEnd = comparison.ci[0]; // minimize: the lowest change is the best the guard could be
    const expected: Verdict = bestEnd > latency.tolerance ? 'worse' : 'same';
    assert.equal(verdict, expected, `ci [${comparison.ci}]`);
  }
});
