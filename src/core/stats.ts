// Statistics for deciding whether a candidate beats the baseline (README, "How a decision is made").
//
// Runs are interleaved (A B, B A, A B, ...), so they come in pairs that share the machine's state of the
// moment: each pair gives one difference, and the drift of the machine cancels inside it (A/A
// pairs correlated by 0.25-0.36 on a busy 2-core machine). A positive metric (a time, a
// size) is compared on the log of the ratio candidate/baseline: relative changes compose, and an
// interval of a time can never go below -100%. The decision is sequential and valid at every look
// (see `judge`). Pure functions, no dependencies.
import type { Direction } from './lessons';

export type { Direction };

/** +1 when larger is better, -1 when smaller is: `gainSign * change` is positive for an improvement. */
export function gainSign(direction: Direction): 1 | -1 {
  return direction === 'maximize' ? 1 : -1;
}

/** Median; 0 for an empty array (callers never get NaN from degenerate input). */
export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Zero spread (all values equal). True for 0 or 1 values. */
export function isConstant(xs: number[]): boolean {
  return xs.every((x) => x === xs[0]);
}

// ---------------------------------------------------------------------------------------------
// Paired differences

/**
 * How a comparison was computed: `paired-log`, the mean log ratio of the pairs (every value > 0);
 * `paired-relative`, the mean difference of the pairs relative to |baseline median| (absolute when
 * that median is 0); `exact`, one run a side of a metric calibrated as deterministic.
 */
export type Method = 'paired-log' | 'paired-relative' | 'exact';

export interface PairedDifferences {
  method: Exclude<Method, 'exact'>;
  /** One difference per pair, on the internal scale (log ratio, or relative difference). */
  d: number[];
  /** From the internal scale to a signed relative change (candidate / baseline - 1). */
  toChange: (x: number) => number;
  fromChange: (change: number) => number;
}

/** The differences of the first min(length) pairs. */
export function pairedDifferences(baseline: number[], candidate: number[]): PairedDifferences {
  const n = Math.min(baseline.length, candidate.length);
  const a = baseline.slice(0, n), b = candidate.slice(0, n);
  if (a.every((x) => x > 0) && b.every((x) => x > 0)) {
    return { method: 'paired-log', d: a.map((x, i) => Math.log(b[i]! / x)), toChange: Math.expm1, fromChange: Math.log1p };
  }
  const scale = Math.abs(median(a)) || 1;
  const same = (x: number) => x;
  return { method: 'paired-relative', d: a.map((x, i) => (b[i]! - x) / scale), toChange: same, fromChange: same };
}

/** The q-quantile by linear interpolation of a sorted array. */
function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q, lo = Math.floor(at);
  return sorted[lo]! + (at - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]!) - sorted[lo]!);
}

/**
 * Differences pulled in to Tukey's fences (quartiles -/+ 1.5 IQR): one GC pause or a burst of
 * another tenant's work in one run would otherwise inflate the spread of the whole decision and
 * hide a real effect for many pairs. On a shared machine that is the rule, not the exception (CPU
 * time of A/A pairs with another program coming and going: standard deviation 21%, median absolute
 * deviation 2.8%). Under normal noise the fences sit 2.7 standard deviations out and move under 1%
 * of the differences, so little is lost when there are no outliers. What moves, moves to the fence,
 * not away, so it still counts in its direction; the fences sit symmetrically about the middle of
 * the differences, and an A/A difference is symmetric, so no side is favoured and the sequence
 * below stays valid. No-op with fewer than 4 differences or a zero IQR (a coarse timer's many equal
 * values).
 */
const TUKEY_K = 1.5;

export function winsorize(d: number[]): number[] {
  if (d.length < 4) return d;
  const sorted = [...d].sort((x, y) => x - y);
  const q1 = quantile(sorted, 0.25), q3 = quantile(sorted, 0.75), iqr = q3 - q1;
  if (iqr === 0) return d;
  return d.map((x) => Math.min(q3 + TUKEY_K * iqr, Math.max(q1 - TUKEY_K * iqr, x)));
}

/**
 * The decision's estimate of the change, from differences on the internal scale: their mean after
 * `winsorize`, kept inside the decision's interval (`interval`), as a relative change. The mean
 * leaves the interval when the median's sequence has ruled it out (a machine switching between
 * two speeds drags the mean); the estimate is then the nearest value the interval allows. The
 * noise floor (calibration.ts) resamples A/A differences through it too, so the floor is the noise
 * of the very estimate it is set against.
 */
export function estimateChange(d: number[], toChange: (x: number) => number, alpha: number, maxRuns: number): number {
  return toChange(meanInside(interval(d, alpha, maxRuns)));
}

function meanInside({ mean, lo, hi }: { mean: number; lo: number; hi: number }): number {
  return Math.min(hi, Math.max(lo, mean));
}

function moments(xs: number[]): { n: number; mean: number; ss: number } {
  const n = xs.length;
  const mean = n === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / n;
  return { n, mean, ss: xs.reduce((s, x) => s + (x - mean) ** 2, 0) };
}

/** Standard deviation of the pairs' differences (internal scale), outliers pulled in as a decision does: the noise a decision faces. */
export function pairSpread(baseline: number[], candidate: number[]): number {
  const { n, ss } = moments(winsorize(pairedDifferences(baseline, candidate).d));
  return n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
}

// ---------------------------------------------------------------------------------------------
// Two anytime-valid confidence sequences, intersected
//
// A change that scales every run by the same factor, with the two runs of a pair exchangeable
// (interleaved, order alternated), makes the differences symmetric about the log of that factor:
// their mean and their median are the same number. Two sequences cover it, each good where the
// other is weak, and the decision uses where they overlap, each at alpha / 2 so the pair together
// errs with probability at most alpha (a union bound):
// - the mean (outliers pulled in, above), by a t-mixture: the most power under ordinary noise;
// - the median, by the sign test made sequential: blind to how far a pair lands, so it shrugs off a
//   machine that switches between states. On a shared 2-core VM, CPU time of the same run was
//   either ~150 ms or ~250 ms, switching in stretches of seconds to a minute (whatever shares the
//   physical core on the host): a quarter to a half of the pairs then differ by +-50%, no
//   winsorizing at a quartile holds, and the mean's interval stays wide, while most pairs still
//   land on the true change. benchstat decides on the median and ranks for the same reason.
// Replayed on six recordings of that VM (`npm run bench`, "Decisions"), the pair found a 5% gain
// in CPU time in 69% of the idle windows and 87% beside a CPU hog, against 52% and 79% for the mean
// alone, with fewer pairs spent on no-effect candidates and no more A/A keeps.

/**
 * The mean's sequence. The spread is unknown and moves with the load, so the test must not assume
 * it: the scale-invariant Bayes factor of the one-sample t-test (a normal prior N(0, g) on the
 * standardized effect mean/sd, the right-Haar prior on the sd; Lai 1976, Perez-Ortiz et al. 2022,
 * "E-statistics, group invariance and anytime valid testing") is a nonnegative martingale under
 * "mean = mu0" whatever the sd, so by Ville's inequality it ever exceeds 1/alpha with probability
 * at most alpha: looking after every pair and stopping at any moment is allowed. It has a closed
 * form, so the set of mu0 it does not reject is an interval computed without search. Splitting
 * alpha over looks (Bonferroni, the previous method) was valid too but much wider, and a
 * group-sequential boundary needs the number of looks fixed in advance.
 */
function logEvidence(n: number, mean: number, ss: number, mu0: number, g: number): number {
  const dev2 = n * (mean - mu0) ** 2;
  const growth = 1 + n * g;
  if (ss + dev2 === 0) return -0.5 * Math.log(growth);
  return -0.5 * Math.log(growth) + (n / 2) * (Math.log(ss + dev2) - Math.log(ss + dev2 / growth));
}

/** Half-width of the mean's sequence at level 1 - alpha: the mu0 whose evidence stays below 1/alpha. Infinity when no mu0 is rejected yet. */
function radius(n: number, ss: number, alpha: number, g: number): number {
  if (n < 1) return Infinity;
  const growth = 1 + n * g;
  const q = Math.exp((2 / n) * (Math.log(1 / alpha) + 0.5 * Math.log(growth)));
  if (q >= growth) return Infinity;
  return Math.sqrt(((q - 1) * ss) / (n * (1 - q / growth)));
}

/**
 * Prior variance of the standardized effect, chosen so the sequence is narrowest near the run cap,
 * where the close calls are decided (Howard et al. 2021, "Time-uniform, nonparametric,
 * nonasymptotic confidence sequences", eq. 3.12 for the normal mixture).
 */
function mixtureScale(alpha: number, maxRuns: number): number {
  const l = -2 * Math.log(alpha);
  return (l + Math.log(1 + l)) / maxRuns;
}

/**
 * The median's sequence. Where the median is m, each difference lands above m with probability
 * 1/2, whatever its spread; betting on the share above m with a Beta(a, a) prior on it gives the
 * closed-form martingale 2^n B(a + k, a + n - k) / B(a, a) (k of n above m). It depends on m only
 * through k, so the values of m it does not reject run between two order statistics. The prior has
 * the mean's prior variance, so it too is narrowest near the cap (rounded to a whole number: a
 * Beta of whole numbers is a ratio of factorials).
 */
function logSignEvidence(k: number, n: number, a: number): number {
  return n * Math.LN2 + logBeta(a + k, a + n - k) - logBeta(a, a);
}

/** log B(p, q) for whole p, q >= 1: (p-1)! (q-1)! / (p+q-1)!. */
function logBeta(p: number, q: number): number {
  return logFactorial(p - 1) + logFactorial(q - 1) - logFactorial(p + q - 1);
}

const logFactorials = [0];
function logFactorial(m: number): number {
  for (let i = logFactorials.length; i <= m; i++) logFactorials.push(logFactorials[i - 1]! + Math.log(i));
  return logFactorials[m]!;
}

function signPrior(alpha: number, maxRuns: number): number {
  return Math.max(1, Math.round((1 / mixtureScale(alpha, maxRuns) - 1) / 2));
}

/** The median's sequence at level 1 - alpha, from the sorted differences: [sorted[j], sorted[n-1-j]] with j the extreme ranks rejected on each side; unbounded while none are. */
function medianInterval(sorted: number[], alpha: number, a: number): [number, number] {
  const n = sorted.length;
  const threshold = Math.log(1 / alpha);
  let j = -1;
  while (j + 1 < n - 1 - (j + 1) && logSignEvidence(n - (j + 1), n, a) >= threshold) j++;
  return j < 0 ? [-Infinity, Infinity] : [sorted[j]!, sorted[n - 1 - j]!];
}

/** The median's evidence against "no change", counted as `medianInterval` counts (a difference of exactly 0 is on neither side), so it rejects 0 exactly when that interval excludes it. */
function logSignEvidenceAtZero(d: number[], a: number): number {
  const above = d.filter((x) => x > 0).length, below = d.filter((x) => x < 0).length;
  return logSignEvidence(Math.max(above, below), d.length, a);
}

/** The intersection of the two sequences, each at alpha / 2, on the internal scale; `p` from the stronger evidence, Bonferroni-corrected. */
function interval(d: number[], alpha: number, maxRuns: number): { n: number; mean: number; sd: number; lo: number; hi: number; p: number } {
  const half = alpha / 2;
  const g = mixtureScale(half, maxRuns);
  const a = signPrior(half, maxRuns);
  const { n, mean, ss } = moments(winsorize(d));
  const r = radius(n, ss, half, g);
  const [slo, shi] = medianInterval([...d].sort((x, y) => x - y), half, a);
  const evidence = Math.max(logEvidence(n, mean, ss, 0, g), n > 0 ? logSignEvidenceAtZero(d, a) : 0);
  return { n, mean, sd: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, lo: Math.max(mean - r, slo), hi: Math.min(mean + r, shi), p: Math.min(1, 2 * Math.exp(-evidence)) };
}

/**
 * The futility stop may wrongly drop a gain the cap could resolve with probability at most this
 * (one side of a 1 - 2 * FUTILITY_BETA confidence sequence), and "what the cap can resolve" is a
 * gain found with power 1 - FUTILITY_BETA at the cap. 0.2 is the conventional design power of 80%.
 */
const FUTILITY_BETA = 0.2;
const Z_POWER = 0.8416; // standard normal quantile of 1 - FUTILITY_BETA
/** A median absolute deviation times this is a standard deviation, under normal noise. */
const MAD_TO_SD = 1.4826;
/** Under normal noise the median of n values spreads sqrt(pi / 2) times as much as their mean. */
const MEDIAN_EFFICIENCY = 1.2533;

// ---------------------------------------------------------------------------------------------
// Comparing and judging

export interface Comparison {
  baseline: { median: number; n: number };
  candidate: { median: number; n: number };
  /** Relative change of the candidate, signed (positive = candidate larger); absolute when the baseline median is 0 and values are not all positive. */
  change: number;
  /** Anytime-valid confidence interval of `change` at level 1 - alpha (the one the verdict used): where the mean's and the median's sequences overlap. */
  ci: [number, number];
  /** p-value at this look: 2 / the stronger of the two sequences' evidence against "no change" (each runs at alpha / 2), so p <= alpha exactly when the interval excludes 0. */
  p: number;
  /** Confidence level of `ci`: 1 - alpha. */
  level: number;
  method: Method;
}

export interface SamplingPolicy {
  /** Pairs before any decision (>= 4). */
  minRuns: number;
  /** Cap of pairs. */
  maxRuns: number;
  /** Chance that a candidate with no effect is ever called different, over all looks. */
  alpha: number;
  /** Relative, e.g. 0.02: no improvement estimated smaller than this is ever "better". */
  noiseFloor: number;
  direction: Direction;
  /** The calibration proved the metric deterministic (zero spread in its A/A runs): one run a side decides. */
  deterministic?: boolean;
}

export type Verdict = 'better' | 'worse' | 'same';

/** JSON has no Infinity: an unbounded end of an interval is stored as the largest double. */
function finite(x: number): number {
  return Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, x));
}

/** The comparison of the pairs so far, with its interval at level 1 - alpha (for reports and the final figure of a run). */
export function compare(baseline: number[], candidate: number[], alpha: number, maxRuns: number): Comparison {
  return assess(baseline, candidate, alpha, maxRuns).comparison;
}

function assess(baseline: number[], candidate: number[], alpha: number, maxRuns: number) {
  const paired = pairedDifferences(baseline, candidate);
  const within = interval(paired.d, alpha, maxRuns);
  const { n, sd, lo, hi, p } = within;
  const comparison: Comparison = {
    baseline: { median: median(baseline.slice(0, n)), n },
    candidate: { median: median(candidate.slice(0, n)), n },
    change: paired.toChange(meanInside(within)), // as estimateChange, without computing the interval twice
    ci: [finite(paired.toChange(lo)), finite(paired.toChange(hi))],
    p,
    level: 1 - alpha,
    method: paired.method,
  };
  return { paired, n, sd, comparison };
}

/**
 * Sequential decision on the interleaved pairs, called after every pair; done=false asks for
 * another. Every look uses the same anytime-valid interval at level 1 - alpha (`interval`), so a
 * candidate with no effect is called "better" or "worse" with probability at most alpha however
 * many looks are taken, and the verdict never contradicts the interval it reports:
 *
 * - "better": the interval is clear of 0 on the improving side AND the estimate beats the noise
 *   floor (a real but tiny gain is not kept). Stops at once.
 * - "worse": the interval is clear of 0 on the other side. Stops at once.
 * - futility, "same" early: even the optimistic end of a 1 - 2 * FUTILITY_BETA sequence is below
 *   the smallest gain worth the cap (the floor, or what the cap can resolve at this spread with
 *   80% power, the larger). A stop for futility can only end a decision as "same", never add a
 *   keep, so it costs no false keeps; it spares a no-effect candidate most of the cap.
 * - "same" at maxRuns otherwise.
 * - Deterministic (proven by the calibration, not guessed from a few equal runs): one run a side,
 *   |change| beyond the floor decides; p is 0 (differs) or 1 (equal).
 */
export function judge(
  baseline: number[],
  candidate: number[],
  policy: SamplingPolicy,
): { done: boolean; verdict: Verdict; comparison: Comparison } {
  const minRuns = Math.max(2, Math.floor(policy.minRuns));
  const maxRuns = Math.max(minRuns, Math.floor(policy.maxRuns));
  const floor = Math.max(0, policy.noiseFloor);
  const sign = gainSign(policy.direction);

  if (policy.deterministic && baseline.length >= 1 && candidate.length >= 1 && isConstant(baseline) && isConstant(candidate)) {
    const { d, toChange } = pairedDifferences(baseline.slice(0, 1), candidate.slice(0, 1));
    const change = toChange(d[0]!);
    const gain = sign * change;
    const comparison: Comparison = {
      baseline: { median: baseline[0]!, n: baseline.length },
      candidate: { median: candidate[0]!, n: candidate.length },
      change,
      ci: [change, change],
      p: change === 0 ? 1 : 0,
      level: 1,
      method: 'exact',
    };
    return { done: true, verdict: Math.abs(gain) > floor ? (gain > 0 ? 'better' : 'worse') : 'same', comparison };
  }

  const { paired, n, sd, comparison } = assess(baseline, candidate, policy.alpha, maxRuns);
  if (n < minRuns) return { done: false, verdict: 'same', comparison };

  const [worst, best] = sign > 0 ? comparison.ci : [-comparison.ci[1], -comparison.ci[0]]; // the interval as gains
  let verdict: Verdict = 'same';
  if (worst > 0 && sign * comparison.change > floor) verdict = 'better';
  else if (best < 0) verdict = 'worse';
  if (verdict !== 'same') return { done: true, verdict, comparison };

  // What the cap could resolve with 80% power, at the spread of whichever sequence is tighter here.
  const m = median(paired.d);
  const spread = Math.min(sd, MEDIAN_EFFICIENCY * MAD_TO_SD * median(paired.d.map((x) => Math.abs(x - m))));
  const half = policy.alpha / 2;
  const resolvable = radius(maxRuns, spread * spread * (maxRuns - 1), half, mixtureScale(half, maxRuns)) + (Z_POWER * spread) / Math.sqrt(maxRuns);
  const worthIt = Math.max(sign * paired.fromChange(sign * floor), resolvable);
  const wide = interval(paired.d, 2 * FUTILITY_BETA, maxRuns);
  const optimistic = sign > 0 ? wide.hi : -wide.lo; // internal scale, as worthIt
  return { done: optimistic <= worthIt || n >= maxRuns, verdict, comparison };
}

// ---------------------------------------------------------------------------------------------
// Guards: what must not get worse

export interface GuardPolicy {
  minRuns: number;
  maxRuns: number;
  alpha: number;
  direction: Direction;
  /** Relative loss the guard accepts, e.g. 0.05: worse by 5% or less is within it. */
  tolerance: number;
}

/**
 * One-sided check of a guard metric on the interleaved pairs, called after every pair, on the same
 * anytime-valid interval as `judge`. The burden of proof is on failing: "worse" only
 * when the whole interval lies beyond the tolerance on the losing side (the best the guard could
 * be is still a loss larger than the tolerance), never on a point estimate. It stops as soon as
 * the interval settles it either way (wholly beyond the tolerance: "worse"; wholly within it:
 * "same"), else at maxRuns as "same": a guard not shown worse beyond its tolerance passes.
 *
 * Error rate controlled: a candidate whose guard is in truth within its tolerance is failed with
 * probability at most alpha, however many looks are taken (the interval covers the true change at
 * every look with probability 1 - alpha, and failing needs it to exclude every change within the
 * tolerance). Not controlled: a loss beyond the tolerance that the runs cannot resolve by maxRuns
 * passes; how often depends on the guard's noise and the cap. A guard without spread (a
 * deterministic score) has an interval that collapses to its exact change once the pairs can
 * exclude anything (7 pairs at alpha 0.05 and 20 pairs a side), so it is decided exactly.
 */
export function judgeGuard(baseline: number[], candidate: number[], policy: GuardPolicy): { done: boolean; verdict: Verdict; comparison: Comparison } {
  const minRuns = Math.max(2, Math.floor(policy.minRuns));
  const maxRuns = Math.max(minRuns, Math.floor(policy.maxRuns));
  const sign = gainSign(policy.direction);
  const { n, comparison } = assess(baseline, candidate, policy.alpha, maxRuns);
  if (n < minRuns) return { done: false, verdict: 'same', comparison };
  // The interval's ends as gains (positive is good), best first.
  const [best, worst] = sign > 0 ? [comparison.ci[1], comparison.ci[0]] : [-comparison.ci[0], -comparison.ci[1]];
  const tolerance = Math.max(0, policy.tolerance);
  if (best < -tolerance) return { done: true, verdict: 'worse', comparison };
  return { done: worst >= -tolerance || n >= maxRuns, verdict: 'same', comparison };
}
