/**
 * The tuner against today's (issue 10): decisions and cycles until the baseline is within 5% of a
 * known optimum, on synthetic objectives simulated in-process. Each cycle asks the tuner for its
 * candidates, scores each value set with the objective, and records the lesson the cycle would
 * (deterministic rules: better beyond the minimum effect is kept, worse beyond it regressed, else
 * no effect; a change already tried is a duplicate); the best kept one becomes the next baseline.
 * Both tuners see the same objectives, starting points and seeds. Co-winners are not combined here:
 * this compares the tuners alone.
 *
 * Today's tuner is kept below as a copy of its search (src/core/proposers/tuner.ts at b9a3eeb; the
 * parsing and formatting it shares with the new one are imported). A copy rather than a checkout
 * at bench time: the bench runs the same from a tarball or a shallow clone, and a squashed merge
 * cannot take the reference away.
 */
import { createHash } from 'node:crypto';
import type { Lesson, Outcome } from '../src/core/lessons';
import { DETERMINISTIC_MIN_EFFECT } from '../src/core/config';
import { applyValues, createTuner, findParameters, formatValue, HOW_TO_ANNOTATE, type Parameter } from '../src/core/proposers/tuner';
import type { Edit, Proposal, ProposeContext, Proposer } from '../src/core/proposers/types';
import { seededRandom } from '../src/core/random';
import { envInt, median, type Measurement, type Row } from './lib';

const FILE = 'params.py';
/** Within this fraction of the optimum's value counts as reached. */
const WITHIN = 0.05;
const CANDIDATES = 4;

interface Dimension {
  name: string;
  lo: number;
  hi: number;
  int?: boolean;
  /** Where the objective peaks. */
  best: number;
}

interface Objective {
  name: string;
  dims: Dimension[];
}

/** Where a value sits in its range, 0..1 (on the log of a range spanning two decades or more, as the user would see it). */
function position(d: Dimension, x: number): number {
  const log = d.lo > 0 && d.hi / d.lo >= 100;
  const t = log ? Math.log : (v: number) => v;
  return (t(x) - t(d.lo)) / (t(d.hi) - t(d.lo));
}

/**
 * A smooth single peak of 11 over a floor of 1 whose slope never vanishes (on a plateau any hill
 * climber stalls under a minimum effect, which would measure nothing): 1 + 10 / (1 + sum (d / 0.2)^2),
 * d the distance to the peak as a fraction of each range.
 */
function score(o: Objective, values: Record<string, number>): number {
  const distance = o.dims.reduce((s, d) => s + ((position(d, values[`${FILE}:${d.name}`]!) - position(d, d.best)) / 0.2) ** 2, 0);
  return 1 + 10 / (1 + distance);
}

const OPTIMUM = 11;

const OBJECTIVES: Objective[] = [
  {
    name: 'optimum inside the ranges',
    dims: [
      { name: 'a', lo: 0, hi: 100, best: 37 },
      { name: 'window', lo: 2, hi: 64, int: true, best: 20 },
      { name: 'rate', lo: 1e-4, hi: 1, best: 0.01 },
    ],
  },
  {
    name: 'optimum at an edge',
    dims: [
      { name: 'a', lo: 0, hi: 100, best: 100 },
      { name: 'window', lo: 2, hi: 64, int: true, best: 20 },
      { name: 'size', lo: 0.1, hi: 1, best: 1 },
    ],
  },
];

function fileText(o: Objective, start: Record<string, number>): string {
  return o.dims.map((d) => `${d.name} = ${start[d.name]}  # rsi: ${d.int ? 'int ' : ''}${d.lo}..${d.hi}`).join('\n') + '\n';
}

/** A seeded start, far enough from the optimum that there is a climb. */
function startOf(o: Objective, seed: number): Record<string, number> {
  const rand = seededRandom(seed * 7 + 11);
  for (;;) {
    const start = Object.fromEntries(
      o.dims.map((d) => {
        const x = d.lo + rand() * (d.hi - d.lo);
        return [d.name, Number(formatValue(x, { lo: d.lo, hi: d.hi, int: d.int ?? false, literal: d.int ? '1' : '0.5' }))];
      }),
    );
    const values = Object.fromEntries(o.dims.map((d) => [`${FILE}:${d.name}`, start[d.name]!]));
    if (score(o, values) < (1 - WITHIN) * OPTIMUM * 0.5) return start;
  }
}

interface Climb {
  /** Candidates decided (duplicates included) until within 5%, or undefined when the budget ran out. */
  decisions?: number;
  cycles?: number;
  /** How far below the optimum the last baseline ended, relative. */
  gap: number;
  /** Candidates decided after the last kept one, over the whole budget: the search spent on nothing. */
  wasted: number;
}

async function climb(proposer: Proposer, o: Objective, seed: number, maxCycles: number): Promise<Climb> {
  let text = fileText(o, startOf(o, seed));
  const valuesOf = (t: string) => Object.fromEntries(findParameters(FILE, t).map((p) => [p.key, p.value]));
  const lessons: Lesson[] = [];
  const tried = new Set<string>();
  let decisions = 0;
  let base = score(o, valuesOf(text));
  let reached: { decisions: number; cycles: number } | undefined;
  let lastKept = 0;
  for (let cycle = 1; cycle <= maxCycles; cycle++) {
    const ctx: ProposeContext = {
      targetFiles: [FILE],
      scope: { targets: [FILE], protected: [] },
      readFile: async () => text,
      count: CANDIDATES,
      cycle,
      seed: (seed * 7919 + cycle) >>> 0,
      lessons,
      verdicts: new Map(),
      metric: { name: 'score', direction: 'maximize' },
      signal: new AbortController().signal,
      prompt: async () => '',
      log: () => {},
    };
    const proposals = await proposer.propose(ctx);
    if (proposals.length === 0) break; // nothing left to try: the lessons will not change any more
    let winner: { text: string; value: number } | undefined;
    for (const proposal of proposals) {
      decisions++;
      const after = (proposal.edits[0] as Extract<Edit, { kind: 'file' }>).content;
      const hash = createHash('sha256').update(after).digest('hex');
      const value = score(o, valuesOf(after));
      const change = (value - base) / Math.abs(base);
      const outcome: Outcome = tried.has(hash) ? 'duplicate' : change > DETERMINISTIC_MIN_EFFECT ? 'kept' : change < -DETERMINISTIC_MIN_EFFECT ? 'regressed' : 'no-effect';
      tried.add(hash);
      lessons.push({
        v: 1, id: `${cycle}-${decisions}`, time: '', cycle, proposer: 'tuner', hypothesis: proposal.hypothesis, files: [FILE],
        patch: '', patchHash: hash, outcome, durationMs: 0, seed: proposal.seed, params: proposal.params,
      });
      if (outcome === 'kept' && (!winner || value > winner.value)) winner = { text: after, value };
    }
    if (winner) {
      text = winner.text;
      base = winner.value;
      lastKept = decisions;
      if (!reached && base >= (1 - WITHIN) * OPTIMUM) reached = { decisions, cycles: cycle };
    }
  }
  return { ...reached, gap: 1 - base / OPTIMUM, wasted: decisions - lastKept };
}

export const tunerSearch: Measurement = {
  name: 'tuner: decisions to 5% of a known optimum',
  how:
    `Synthetic objectives (a smooth peak over three annotated parameters: a float, an int, a float on a log or a linear range: 1 + 10 / (1 + sum (d / 0.2)^2), d the distance to the peak in each range), ` +
    `simulated in-process: ${CANDIDATES} candidates a cycle, deterministic outcomes with the default minimum effect of a deterministic metric ` +
    `(${DETERMINISTIC_MIN_EFFECT * 100}%), the best kept one the next baseline. Candidates decided until the baseline is within ${WITHIN * 100}% ` +
    'of the optimum, median over seeds (a seed that never gets there counts as the budget); the climb goes on for the whole budget (or until ' +
    'the tuner has nothing left to propose) to count the candidates decided after the last kept one, and the final gap. ' +
    'Baseline: today\'s tuner (b9a3eeb), same seeds and starts.',
  async run(): Promise<Row[]> {
    const seeds = envInt('BENCH_TUNER_SEEDS', 20);
    const maxCycles = envInt('BENCH_TUNER_CYCLES', 30);
    const budget = maxCycles * CANDIDATES;
    const rows: Row[] = [];
    for (const o of OBJECTIVES) {
      const runs = { ours: [] as Climb[], base: [] as Climb[] };
      for (let seed = 1; seed <= seeds; seed++) {
        runs.ours.push(await climb(createTuner(), o, seed, maxCycles));
        runs.base.push(await climb(referenceTuner(), o, seed, maxCycles));
      }
      const decisions = (cs: Climb[]) => median(cs.map((c) => c.decisions ?? budget));
      const cycles = (cs: Climb[]) => median(cs.map((c) => c.cycles ?? maxCycles));
      const reached = (cs: Climb[]) => cs.filter((c) => c.decisions !== undefined).length;
      const gap = (cs: Climb[]) => median(cs.map((c) => c.gap));
      const wasted = (cs: Climb[]) => median(cs.map((c) => c.wasted));
      const note = `reached ${reached(runs.ours)} of ${seeds} seeds, today's ${reached(runs.base)}; budget ${budget}`;
      rows.push(
        { measurement: this.name, what: `${o.name}: decisions`, ours: decisions(runs.ours), unit: '', base: { label: "today's tuner", value: decisions(runs.base) }, ratio: decisions(runs.ours) / decisions(runs.base), n: seeds, note },
        { measurement: this.name, what: `${o.name}: cycles`, ours: cycles(runs.ours), unit: '', base: { label: "today's tuner", value: cycles(runs.base) }, ratio: cycles(runs.ours) / cycles(runs.base), n: seeds },
        { measurement: this.name, what: `${o.name}: final gap to the optimum`, ours: gap(runs.ours), unit: '%', base: { label: "today's tuner", value: gap(runs.base) }, n: seeds },
        { measurement: this.name, what: `${o.name}: candidates after the last kept one`, ours: wasted(runs.ours), unit: '', base: { label: "today's tuner", value: wasted(runs.base) }, ratio: wasted(runs.ours) / wasted(runs.base), n: seeds, note: `of ${budget}` },
      );
    }
    return rows;
  },
};

// ---- Today's tuner (b9a3eeb), its search only: the reference, not used anywhere else. ----

const NUM = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;

// Steps are fractions of the range (of its logarithm for positive ranges spanning more than a decade).
const INITIAL_STEP = 0.2;
const MIN_STEP = 0.005;
const MAX_STEP = 0.5;
/** Chance that a candidate moves two parameters at once (interactions), when there are two. */
const TWO_PARAMETERS = 0.2;
/** Draws per candidate before the space near the current values counts as exhausted. */
const MAX_ATTEMPTS = 200;
/** The first draws follow the learned direction; later ones (the neighbourhood is taken) go either way. */
const FOLLOW_ATTEMPTS = 3;
const FAILED: readonly Outcome[] = ['gate-failed', 'crashed', 'timeout', 'memory-exceeded', 'invalid'];

/** What the lessons say about one parameter. */
interface Memory {
  /** Preferred direction: +1 up, -1 down, 0 none yet. */
  dir: number;
  step: number;
  kept: number;
  regressed: number;
  noEffect: number;
  /** Values whose candidates failed: not crossed again from the side we are on. */
  fences: number[];
  /** Why `dir` and `step` are what they are, for the hypothesis. */
  why: string;
}

interface Move {
  key: string;
  from: number;
  to: number;
}

/** Reads the moves back from our own hypotheses: "NAME FROM -> TO (FILE)". */
const MOVE = new RegExp(String.raw`([^\s;]+) (${NUM}) -> (${NUM}) \(([^)]*)\)`, 'g');

function parseMoves(hypothesis: string): Move[] {
  return [...hypothesis.matchAll(MOVE)].map((m) => ({ key: `${m[4]}:${m[1]}`, from: Number(m[2]), to: Number(m[3]) }));
}

function learn(params: Parameter[], lessons: Lesson[], verdicts: Map<string, string>): Map<string, Memory> {
  const memory = new Map<string, Memory>(
    params.map((p) => [p.key, { dir: 0, step: INITIAL_STEP, kept: 0, regressed: 0, noEffect: 0, fences: [], why: 'no history yet, exploring' }]),
  );
  // Oldest first, so the last outcome of a parameter decides its direction.
  for (const lesson of lessons) {
    if (lesson.proposer !== 'tuner' || !lesson.params) continue;
    for (const move of parseMoves(lesson.hypothesis)) {
      const m = memory.get(move.key);
      const to = lesson.params[move.key] ?? move.to;
      const d = Math.sign(to - move.from);
      if (!m || d === 0) continue;
      const way = d > 0 ? 'up' : 'down';
      const outcome = lesson.outcome;
      if (outcome === 'kept' && verdicts.get(lesson.id) !== 'rejected') {
        Object.assign(m, { kept: m.kept + 1, dir: d, step: m.step * 1.5, why: `last move ${way} helped` });
      } else if (outcome === 'regressed') {
        Object.assign(m, { regressed: m.regressed + 1, dir: -d, step: m.step / 2, why: `last move ${way} regressed` });
      } else if (outcome === 'no-effect') {
        Object.assign(m, { noEffect: m.noEffect + 1, dir: d, step: m.step * 2, why: `last move ${way} had no effect, larger step` });
      } else if (FAILED.includes(outcome)) {
        m.fences.push(to);
        Object.assign(m, { dir: -d, step: m.step / 2, why: `last move ${way} to ${to} ended ${outcome}` });
      }
      m.step = clamp(m.step, MIN_STEP, MAX_STEP);
    }
  }
  return memory;
}

/** Parameters that helped are drawn more often; ones whose every move did nothing, less. */
function weight(m: Memory): number {
  return (1 + 2 * m.kept) / (m.kept + m.regressed === 0 ? 1 + m.noEffect : 1);
}

interface Mutation {
  value: number;
  literal: string;
  reason: string;
}

function mutate(p: Parameter, m: Memory, rand: () => number, attempt: number): Mutation | undefined {
  const x = clamp(p.value, p.lo, p.hi);
  let dir = m.dir !== 0 && attempt < FOLLOW_ATTEMPTS ? m.dir : rand() < 0.5 ? 1 : -1;
  const atBound = dir > 0 ? x >= p.hi : x <= p.lo;
  if (atBound) dir = -dir;
  // Jitter the step; retries reach geometrically further, up to the whole range by the last attempt,
  // so a crowded neighbourhood or a step shrunk to the minimum does not end the search early.
  const frac = Math.min(1, m.step * (1 / m.step) ** (attempt / MAX_ATTEMPTS) * (0.5 + rand()));
  const log = p.lo > 0 && p.hi / p.lo > 10;
  let to = clamp(log ? x * (p.hi / p.lo) ** (dir * frac) : x + dir * frac * (p.hi - p.lo), p.lo, p.hi);
  if (p.int) {
    to = Math.round(to);
    if (to === Math.round(x)) to = clamp(to + dir, p.lo, p.hi); // an int always moves by at least one
  }
  const literal = formatValue(to, p);
  const value = Number(literal);
  if (m.fences.some((f) => (x < f && value >= f) || (x > f && value <= f))) return undefined;
  const way = dir > 0 ? 'up' : 'down';
  const why = m.dir === 0 || dir === m.dir ? m.why : atBound ? `${m.why}, but at the bound` : `${m.why}; exploring the other way`;
  return { value, literal, reason: `step ${way} ${Math.round(frac * 100)}% of ${log ? 'log ' : ''}range; ${why}` };
}

interface Candidate {
  values: Record<string, number>;
  changes: { param: Parameter; literal: string }[];
  hypothesis: string;
}

function draw(
  params: Parameter[], memory: Map<string, Memory>, current: Record<string, number>, rand: () => number, attempt: number,
): Candidate | undefined {
  const pool = [...params];
  const candidate: Candidate = { values: { ...current }, changes: [], hypothesis: '' };
  const parts: string[] = [];
  const n = params.length > 1 && rand() < TWO_PARAMETERS ? 2 : 1;
  for (let i = 0; i < n; i++) {
    const p = pickWeighted(pool, (q) => weight(memory.get(q.key)!), rand);
    pool.splice(pool.indexOf(p), 1);
    const r = mutate(p, memory.get(p.key)!, rand, attempt);
    if (!r) return undefined;
    candidate.values[p.key] = r.value;
    candidate.changes.push({ param: p, literal: r.literal });
    parts.push(`${p.key.slice(p.file.length + 1)} ${p.literal} -> ${r.literal} (${p.file}): ${r.reason}`);
  }
  candidate.hypothesis = parts.join('; ');
  return candidate;
}

/** A value set as a string, so repeats are found whatever the key order. */
function signature(values: Record<string, number>): string {
  return JSON.stringify(Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function referenceTuner(): Proposer {
  return {
    name: 'tuner',
    async propose(ctx: ProposeContext): Promise<Proposal[]> {
      const log = (message: string) => ctx.log(`tuner: ${message}`);
      const texts = new Map<string, string>();
      const params: Parameter[] = [];
      for (const file of ctx.targetFiles) {
        let text: string;
        try {
          text = await ctx.readFile(file);
        } catch (err) {
          log(`cannot read ${file}: ${(err as Error).message}`);
          continue;
        }
        texts.set(file, text);
        params.push(...findParameters(file, text, log));
      }
      if (params.length === 0) {
        log(`no annotated parameters in the ${ctx.targetFiles.length} target file(s); ${HOW_TO_ANNOTATE}`);
        return [];
      }

      const memory = learn(params, ctx.lessons, ctx.verdicts);
      const rand = seededRandom(ctx.seed);
      const current = Object.fromEntries(params.map((p) => [p.key, p.value]));
      // Never propose the current values, a value set any earlier lesson tried, or one twice in a batch.
      const seen = new Set([signature(current), ...ctx.lessons.filter((l) => l.params).map((l) => signature(l.params!))]);
      const proposals: Proposal[] = [];
      while (proposals.length < ctx.count && !ctx.signal.aborted) {
        let found: Candidate | undefined;
        for (let attempt = 0; attempt < MAX_ATTEMPTS && !found; attempt++) {
          const c = draw(params, memory, current, rand, attempt);
          if (c && !seen.has(signature(c.values))) found = c;
        }
        if (!found) {
          log(
            `proposing ${proposals.length} of ${ctx.count}: no untried value set found in ${MAX_ATTEMPTS} draws; ` +
              'the annotated ranges look exhausted (widen them or annotate more constants)',
          );
          break;
        }
        seen.add(signature(found.values));
        proposals.push(toProposal(found, texts, ctx.seed));
      }
      return proposals;
    },
  };
}


function toProposal(c: Candidate, texts: Map<string, string>, seed: number): Proposal {
  const byFile = new Map<string, Candidate['changes']>();
  for (const change of c.changes) byFile.set(change.param.file, [...(byFile.get(change.param.file) ?? []), change]);
  const edits: Edit[] = [...byFile].map(([path, changes]) => ({ kind: 'file', path, content: applyValues(texts.get(path)!, changes) }));
  return { hypothesis: c.hypothesis, edits, seed, params: c.values };
}

function pickWeighted<T>(items: T[], weightOf: (item: T) => number, rand: () => number): T {
  const weights = items.map(weightOf);
  let r = rand() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < items.length; i++) if ((r -= weights[i]!) < 0) return items[i]!;
  return items[items.length - 1]!;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
