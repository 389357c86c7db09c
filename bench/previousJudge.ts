// The decision procedure before issue 9, kept verbatim so `npm run bench` can set today's method
// beside the previous one in the same run. Not used by the product.
//
// Rank-based on purpose: benchmark timings are skewed and have outliers (GC pauses, another
// tenant), so we use Mann-Whitney U for significance and the Hodges-Lehmann shift for size,
// as benchstat does. Pure functions, no dependencies.
import type { Direction } from '../src/core/lessons';

/** Median; 0 for an empty array (callers never get NaN from degenerate input). */
export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Zero spread (all values equal): the metric looks deterministic. True for 0 or 1 values. */
export function isConstant(xs: number[]): boolean {
  return xs.every((x) => x === xs[0]);
}

// ---------------------------------------------------------------------------------------------
// Distributions

/** Standard normal CDF. erfc approximation (Numerical Recipes), relative error < 1.2e-7. */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc = t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** Inverse of normalCdf by bisection: simple, and only called once per comparison. */
function normalQuantile(p: number): number {
  let lo = -40, hi = 40;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}

// Exact null distribution of U is used while every count is an exact double integer:
// C(50, 25) ~ 1.3e14 < 2^53.
const EXACT_MAX_N = 50;

/**
 * Null distribution of U for sample sizes m and n (no ties): counts[k] = number of the C(m+n, m)
 * equally likely rank arrangements with U = k. These are the coefficients of the Gaussian binomial
 * [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), built one factor at a time; every
 * intermediate is itself a Gaussian binomial, so all values stay exact integers.
 */
function uCounts(m: number, n: number): number[] {
  let c = [1];
  for (let i = 1; i <= m; i++) {
    const next = new Array<number>(i * n + 1).fill(0);
    for (let k = 0; k < next.length; k++) {
      // multiply by (1 - q^(n+i)) ...
      const prod = (c[k] ?? 0) - (k >= n + i ? c[k - n - i] ?? 0 : 0);
      // ... and divide by (1 - q^i) as a power series (exact: the quotient is a polynomial).
      next[k] = prod + (k >= i ? next[k - i]! : 0);
    }
    c = next;
  }
  return c;
}

/** Exact null CDF of U: cdf[k] = P(U <= k). Cached, since judge asks for the same sizes on every look. */
const cdfCache = new Map<string, number[]>();
function uCdf(m: number, n: number): number[] {
  const key = `${m},${n}`;
  let cdf = cdfCache.get(key);
  if (!cdf) {
    const counts = uCounts(m, n);
    const total = counts.reduce((x, y) => x + y, 0);
    let run = 0;
    cdf = counts.map((c) => (run += c) / total);
    cdfCache.set(key, cdf);
  }
  return cdf;
}

// ---------------------------------------------------------------------------------------------
// Tests and estimates

/**
 * Two-sided Mann-Whitney U test. `u` is the U statistic of `a`: the number of pairs with
 * a_i > b_j, ties counting 1/2 (so u = 0 when every a is below every b). The p-value is exact
 * when there are no ties and n_a + n_b <= 50, otherwise the normal approximation with tie-corrected
 * variance and continuity correction. Empty input or all values tied: p = 1.
 */
export function mannWhitney(a: number[], b: number[]): { u: number; p: number } {
  const n1 = a.length, n2 = b.length, N = n1 + n2;
  if (n1 === 0 || n2 === 0) return { u: 0, p: 1 };

  // Mid-ranks of the pooled sample, collecting tie group sizes for the variance correction.
  const pooled = [...a.map((v) => ({ v, fromA: true })), ...b.map((v) => ({ v, fromA: false }))]
    .sort((x, y) => x.v - y.v);
  let rankSumA = 0, tieTerm = 0;
  for (let i = 0; i < N;) {
    let j = i;
    while (j + 1 < N && pooled[j + 1]!.v === pooled[i]!.v) j++;
    const t = j - i + 1, midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (pooled[k]!.fromA) rankSumA += midRank;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const M = n1 * n2;

  if (tieTerm === 0 && N <= EXACT_MAX_N) {
    // Symmetric null distribution: two-sided p = 2 * P(U <= the smaller tail).
    return { u, p: Math.min(1, 2 * uCdf(n1, n2)[Math.min(u, M - u)]!) };
  }
  const variance = (M / 12) * (N + 1 - tieTerm / (N * (N - 1)));
  if (variance <= 0) return { u, p: 1 };
  const z = Math.max(0, Math.abs(u - M / 2) - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, 2 * (1 - normalCdf(z))) };
}

/**
 * Hodges-Lehmann shift of b relative to a: the median of all pairwise differences b_j - a_i.
 * The confidence interval [D(k), D(M+1-k)] over the sorted differences is the distribution-free
 * (Moses) interval: k is the largest with P(U <= k-1) <= (1-level)/2, from the exact null
 * distribution of U for small samples, the normal approximation otherwise. When the samples are
 * too small to reach the level at all, the interval is the full range of differences (k = 1),
 * i.e. the widest we can state; the Mann-Whitney p then cannot be significant either.
 */
export function hodgesLehmann(a: number[], b: number[], level = 0.95): { shift: number; lo: number; hi: number } {
  const n1 = a.length, n2 = b.length, M = n1 * n2;
  if (M === 0) return { shift: 0, lo: 0, hi: 0 };
  const d = new Float64Array(M); // typed array: numeric sort, fast enough to run on every look
  let i = 0;
  for (const y of b) for (const x of a) d[i++] = y - x;
  d.sort();

  const tail = (1 - Math.min(Math.max(level, 0), 1)) / 2;
  let k: number;
  if (n1 + n2 <= EXACT_MAX_N) {
    const cdf = uCdf(n1, n2);
    k = 0;
    while (k < M && cdf[k]! <= tail) k++; // P(U <= k-1) <= tail holds for this k
  } else {
    const sd = Math.sqrt((M * (n1 + n2 + 1)) / 12);
    k = Math.floor(M / 2 + 0.5 + normalQuantile(tail) * sd);
  }
  k = Math.min(Math.max(k, 1), Math.ceil(M / 2));
  const mid = M >> 1;
  const shift = M % 2 ? d[mid]! : (d[mid - 1]! + d[mid]!) / 2;
  return { shift, lo: d[k - 1]!, hi: d[M - k]! };
}

// ---------------------------------------------------------------------------------------------
// Comparing and judging

export interface Comparison {
  baseline: { median: number; n: number };
  candidate: { median: number; n: number };
  /** HL shift / |baseline median|, signed (positive = candidate larger). Absolute shift when the baseline median is 0. */
  change: number;
  /** Confidence interval of `change`, same scale. */
  ci: [number, number];
  p: number;
}

/**
 * Compare candidate against baseline. The change is relative to |baseline median|; when that
 * median is 0 a relative change is undefined, so the absolute shift is reported instead (and the
 * noise floor then applies to it as an absolute amount).
 */
export function compare(baseline: number[], candidate: number[], level = 0.95): Comparison {
  const mb = median(baseline);
  const scale = mb === 0 ? 1 : Math.abs(mb);
  const hl = hodgesLehmann(baseline, candidate, level);
  return {
    baseline: { median: mb, n: baseline.length },
    candidate: { median: median(candidate), n: candidate.length },
    change: hl.shift / scale,
    ci: [hl.lo / scale, hl.hi / scale],
    p: mannWhitney(baseline, candidate).p,
  };
}

export interface SamplingPolicy {
  /** Per side before any statistical look (>= 4, benchstat's minimum). */
  minRuns: number;
  /** Cap per side. */
  maxRuns: number;
  /** Overall false-positive budget across all looks, e.g. 0.05. */
  alpha: number;
  /** Relative, e.g. 0.02: no improvement smaller than this is ever "better". */
  noiseFloor: number;
  direction: Direction;
  /**
   * The metric is known to be deterministic (e.g. `rsi calibrate` saw zero spread in A/A runs):
   * one run per side decides. Without it, zero spread must be seen on 2 runs per side first,
   * because a single run per side says nothing about spread.
   */
  deterministic?: boolean;
}

export type Verdict = 'better' | 'worse' | 'same';

/**
 * Sequential decision, called after every interleaved A/B pair; done=false asks for another pair.
 *
 * - Looking after every pair from minRuns to maxRuns gives K = maxRuns - minRuns + 1 looks; each
 *   look that may stop on significance spends alpha. We split alpha evenly (Bonferroni): a look is
 *   significant when p < alpha / K, and the CI is computed at level 1 - alpha / K, so the chance
 *   that identical distributions are ever called different over all looks is <= alpha (and
 *   "better", one side of that, about half). Conservative because consecutive looks are highly
 *   correlated, but provable and simple; with a 5% CV a 10% shift still decides in ~10 runs.
 * - "better": significant, the (adjusted) CI clear of zero on the improving side, and the shift
 *   estimate beyond the noise floor, so a real but tiny gain is never kept. The floor is itself the
 *   spread of A/A estimates (calibration.ts), so it is compared with the estimate: asking the CI's
 *   far end to clear it too would count the sampling noise twice. Stops as soon as that holds.
 * - "worse": significant, shift on the non-improving side. Stops at once.
 * - "same", early: the whole CI on the improving side stays at or below the noise floor, so the
 *   candidate can no longer turn out "better" (a futility stop: only "better" is ever kept, so
 *   stopping here cannot add false keeps, and it spares no-effect candidates the full maxRuns).
 * - Otherwise continue; at maxRuns the rules above give the verdict, "same" when unclear.
 * - Deterministic metric (zero spread on both sides): the difference is exact, so one run per side
 *   suffices when the policy says so (two otherwise); |change| must exceed the floor (any change
 *   when the floor is 0). p is reported as 0 (differs) or 1 (equal).
 *
 * The returned comparison carries the adjusted CI, the one the verdict was based on.
 */
export function judge(
  baseline: number[],
  candidate: number[],
  policy: SamplingPolicy,
): { done: boolean; verdict: Verdict; comparison: Comparison } {
  const n = Math.min(baseline.length, candidate.length);
  const minRuns = Math.max(1, Math.floor(policy.minRuns));
  const maxRuns = Math.max(minRuns, Math.floor(policy.maxRuns));
  const alphaLook = policy.alpha / (maxRuns - minRuns + 1);
  const floor = Math.max(0, policy.noiseFloor);
  const sign = policy.direction === 'maximize' ? 1 : -1; // gain = sign * change: positive is good

  const comparison = compare(baseline, candidate, 1 - alphaLook);
  const gain = sign * comparison.change;

  if (n >= (policy.deterministic ? 1 : 2) && isConstant(baseline) && isConstant(candidate)) {
    comparison.p = gain === 0 ? 1 : 0;
    const verdict: Verdict = Math.abs(gain) > floor ? (gain > 0 ? 'better' : 'worse') : 'same';
    return { done: true, verdict, comparison };
  }
  if (n < minRuns) return { done: false, verdict: 'same', comparison };

  const g1 = sign * comparison.ci[0], g2 = sign * comparison.ci[1];
  const gainLo = Math.min(g1, g2), gainHi = Math.max(g1, g2);
  const significant = comparison.p < alphaLook;

  const cannotBeBetter = gainHi <= floor;
  let verdict: Verdict = 'same';
  if (significant && gainLo > 0 && gain > floor) verdict = 'better';
  // "worse" keeps nothing, it only steers the next proposals: at a futility stop the nominal alpha will do.
  else if (gain < 0 && (significant || (cannotBeBetter && comparison.p < policy.alpha))) verdict = 'worse';
  return { done: verdict !== 'same' || cannotBeBetter || n >= maxRuns, verdict, comparison };
}

/** The previous calibration's floor: resampled unpaired Hodges-Lehmann changes at n runs a side, 95th percentile of their size. */
export function noiseFloor(a: number[], b: number[], n: number, random: () => number, trials = 400): number {
  if (isConstant([...a, ...b])) return 0;
  const draw = (xs: number[]) => Array.from({ length: n }, () => xs[Math.floor(random() * xs.length)]!);
  const changes = Array.from({ length: trials }, () => Math.abs(compare(draw(a), draw(b)).change)).sort((x, y) => x - y);
  return changes[Math.floor(0.95 * (trials - 1))]!;
}
