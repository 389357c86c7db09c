import type { Lesson, Outcome } from '../lessons';
import type { Edit, Proposal, ProposeContext, Proposer } from './types';
import { seededRandom } from '../random';

/**
 * The built-in offline proposer: tunes numeric constants annotated in the target files, e.g.
 *   stopLoss: 0.03, // rsi: 0.005..0.1
 *   const FAST = 5; // rsi: int 2..50
 *   THRESHOLD = 16  # rsi: int 2..64
 * Seeded and deterministic; learns directions and step sizes from its own lessons.
 */

/** One annotated constant. */
export interface Parameter {
  /** Key in `Proposal.params`: "file:name"; a name repeated in one file gets "#2", "#3", ... */
  key: string;
  name: string;
  file: string;
  /** 1-based line number. */
  line: number;
  value: number;
  lo: number;
  hi: number;
  int: boolean;
  /** Offsets of the number literal in the file's text: `text.slice(start, end) === literal`. */
  start: number;
  end: number;
  literal: string;
}

export const HOW_TO_ANNOTATE =
  'annotate a numeric constant in a target file with a trailing comment giving its range, e.g.\n' +
  '  stopLoss: 0.03, // rsi: 0.005..0.1\n' +
  '  const FAST = 5; // rsi: int 2..50\n' +
  '  THRESHOLD = 16  # rsi: int 2..64';

const NUM = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
/** Any comment that means to be an annotation; lines with one that LINE cannot read are reported. */
const ANNOTATED = /(?:\/\/|#)\s*rsi:/;
/**
 * NAME (optionally quoted, optionally typed: `x: int = 5`, `const X: number = 5`) `:` or `=` NUMBER,
 * then only separators before the comment, so an expression such as `x = 5 * y` is never tuned.
 */
const LINE = new RegExp(
  String.raw`(?<![\w$])(?<name>[A-Za-z_$][\w$]*)["']?(?:\s*:\s*[\w$.<>\[\]| ]+?)?\s*[:=]\s*(?<num>${NUM})[\s,;]*` +
    String.raw`(?:\/\/|#)\s*rsi:\s*(?<int>int\s+)?(?<lo>${NUM})\s*\.\.\s*(?<hi>${NUM})(?:\s.*)?\r?$`,
  'd',
);

/** Finds the annotated parameters of one file. Unreadable or empty-range annotations go to `report` and are skipped. */
export function findParameters(file: string, text: string, report: (message: string) => void = () => {}): Parameter[] {
  const found: Parameter[] = [];
  const occurrences = new Map<string, number>();
  let offset = 0;
  text.split('\n').forEach((line, index) => {
    const lineStart = offset;
    offset += line.length + 1;
    if (!ANNOTATED.test(line)) return;
    const where = `${file}:${index + 1}`;
    const m = LINE.exec(line);
    const g = m?.groups;
    const span = m?.indices?.groups?.['num'];
    if (!g || !span) {
      report(`${where}: cannot read the rsi annotation (expected NAME = NUMBER // rsi: [int] LO..HI), skipped`);
      return;
    }
    const name = g['name']!;
    const literal = g['num']!;
    const [value, lo, hi] = [literal, g['lo']!, g['hi']!].map(Number) as [number, number, number];
    const int = g['int'] !== undefined;
    if (![value, lo, hi].every(Number.isFinite)) return report(`${where}: ${name}: numbers out of range, skipped`);
    if (!(lo < hi)) return report(`${where}: ${name}: empty range ${g['lo']}..${g['hi']} (LO must be below HI), skipped`);
    if (int && !(Number.isInteger(lo) && Number.isInteger(hi))) {
      return report(`${where}: ${name}: an int range needs integer bounds, got ${g['lo']}..${g['hi']}, skipped`);
    }
    if (value < lo || value > hi) report(`${where}: ${name} = ${literal} is outside ${g['lo']}..${g['hi']}; proposals stay inside`);
    const n = (occurrences.get(name) ?? 0) + 1;
    occurrences.set(name, n);
    found.push({
      key: `${file}:${name}${n > 1 ? `#${n}` : ''}`,
      name, file, line: index + 1, value, lo, hi, int,
      start: lineStart + span[0], end: lineStart + span[1], literal,
    });
  });
  return found;
}

/**
 * Formats a value for the parameter's file: ints as ints; floats to 4 significant digits, more when
 * the range is narrow relative to the value (1000.3 in 1000..1001), with no float noise; a float
 * stays a float (Python `2.0`, not `2`) and an exponent literal stays in exponent form.
 */
export function formatValue(value: number, p: Pick<Parameter, 'lo' | 'hi' | 'int' | 'literal'>): string {
  if (p.int) return String(clamp(Math.round(value), p.lo, p.hi));
  const magnitude = (v: number) => Math.floor(Math.log10(Math.abs(v) || 1));
  const digits = clamp(magnitude(value) - magnitude(p.hi - p.lo) + 4, 4, 15);
  let n = Number(value.toPrecision(digits));
  if (n < p.lo || n > p.hi) n = clamp(n, p.lo, p.hi); // rounding may step past a bound with more digits than 4
  if (/e/i.test(p.literal)) return n.toExponential().replace('e+', 'e');
  const text = String(n);
  return /^-?\d+$/.test(text) && p.literal.includes('.') ? `${text}.0` : text;
}

/** Replaces the number literals of the given parameters, leaving every other byte of the text alone. */
export function applyValues(text: string, changes: { param: Parameter; literal: string }[]): string {
  let out = text;
  for (const { param, literal } of [...changes].sort((a, b) => b.param.start - a.param.start)) {
    out = out.slice(0, param.start) + literal + out.slice(param.end);
  }
  return out;
}

/** The annotated parameters of the target files, as the tuner sees them, and the files' texts. */
export interface ParameterScan {
  params: Parameter[];
  texts: Map<string, string>;
}

/** Reads every target file and finds its parameters; unreadable files and annotations go to `report`. */
export async function scanParameters(
  targetFiles: string[], readFile: (file: string) => Promise<string>, report: (message: string) => void,
): Promise<ParameterScan> {
  const scan: ParameterScan = { params: [], texts: new Map() };
  for (const file of targetFiles) {
    let text: string;
    try {
      text = await readFile(file);
    } catch (err) {
      report(`cannot read ${file}: ${(err as Error).message}`);
      continue;
    }
    scan.texts.set(file, text);
    scan.params.push(...findParameters(file, text, report));
  }
  return scan;
}

// Steps are fractions of the range (of its logarithm on a log scale).
const INITIAL_STEP = 0.2;
const MIN_STEP = 0.005;
const MAX_STEP = 0.5;
/**
 * A positive range spanning this ratio (two decades) or more is searched on a log scale: a linear
 * step of a fifth of 1e-5..1e-1 would jump over the three lower decades at once. Narrower ranges
 * (0.005..0.1, 2..50) are searched linearly, where a step means the same everywhere in the range.
 */
const LOG_RATIO = 100;
/**
 * A regression within this fraction of the range closes that side of the current value; a longer
 * one only bounds it (later moves go part of the way), as it may have stepped over a better value.
 */
const NEAR = 0.05;
/** A move back from a closed side takes this fraction of the learned step. */
const REVERSE = 4;
/** Chance that a candidate moves two parameters at once (interactions), when there are two. */
const TWO_PARAMETERS = 0.2;
/** Draws per candidate before the space near the current values counts as exhausted. */
const MAX_ATTEMPTS = 200;
/** The first draws follow the learned direction; later ones (the neighbourhood is taken) go either way. */
const FOLLOW_ATTEMPTS = 3;
const FAILED: readonly Outcome[] = ['gate-failed', 'crashed', 'timeout', 'memory-exceeded', 'invalid'];
/**
 * Outcomes that say a move went the wrong way: the metric got worse, or it got better at a guard's
 * cost (following that direction further would cost the guard more).
 */
const WORSE: readonly Outcome[] = ['regressed', 'guard-failed'];

type Side = 1 | -1;
const wayOf = (d: number) => (d > 0 ? 'up' : 'down');

/** What the lessons say about one parameter. */
interface Memory {
  /** Preferred direction: +1 up, -1 down, 0 none yet. */
  dir: number;
  /** A fraction of the range (of its log), adapted by this parameter's own outcomes. */
  step: number;
  kept: number;
  regressed: number;
  noEffect: number;
  /** Values whose candidates failed: not reached or crossed again from the side we are on. */
  fences: number[];
  /** Why `dir` and `step` are what they are, for the hypothesis. */
  why: string;
  /**
   * What was learned around the current value on the same ground (the other parameters at their
   * current values, the file not changed since by another proposer): the nearest value on each
   * side known to be worse (a regressed move from here, or the baseline a kept move came from),
   * the sides a short move from here regressed on (within NEAR), and every value tried here.
   */
  worse: Partial<Record<Side, number>>;
  regressedFrom: Partial<Record<Side, true>>;
  tried: Set<number>;
  /** Set when the parameter rests: why. */
  rest?: string;
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

/** True when `values` and `current` agree on every key but `except` (the same ground for that parameter). */
function sameOthers(values: Record<string, number>, current: Record<string, number>, except: string): boolean {
  const keys = Object.keys(current);
  return Object.keys(values).length === keys.length && keys.every((k) => k === except || values[k] === current[k]);
}

function learn(params: Parameter[], lessons: Lesson[], verdicts: Map<string, string>): Map<string, Memory> {
  const current = Object.fromEntries(params.map((p) => [p.key, p.value]));
  const byKey = new Map(params.map((p) => [p.key, p]));
  const memory = new Map<string, Memory>(
    params.map((p) => [
      p.key,
      { dir: 0, step: INITIAL_STEP, kept: 0, regressed: 0, noEffect: 0, fences: [], why: 'no history yet, exploring', worse: {}, regressedFrom: {}, tried: new Set() },
    ]),
  );
  // A kept change by another proposer to a file changes the ground of its parameters: what was
  // learned there before no longer holds. Lessons are oldest first, so the last one seen counts.
  const lastForeignChange = new Map<string, number>();
  lessons.forEach((l, i) => {
    if (l.proposer !== 'tuner' && l.outcome === 'kept' && verdicts.get(l.id) !== 'rejected') for (const f of l.files) lastForeignChange.set(f, i);
  });
  // Oldest first, so the last outcome of a parameter decides its direction.
  lessons.forEach((lesson, index) => {
    if (lesson.proposer !== 'tuner' || !lesson.params) return;
    const moves = parseMoves(lesson.hypothesis);
    for (const move of moves) {
      const m = memory.get(move.key);
      const to = lesson.params[move.key] ?? move.to;
      const d = Math.sign(to - move.from);
      if (!m || d === 0) continue;
      const way = wayOf(d);
      const outcome = lesson.outcome;
      const kept = outcome === 'kept' && verdicts.get(lesson.id) !== 'rejected';
      if (kept) {
        Object.assign(m, { kept: m.kept + 1, dir: d, step: m.step * 1.5, why: `last move ${way} helped` });
      } else if (WORSE.includes(outcome)) {
        const what = outcome === 'regressed' ? 'regressed' : 'worsened a guard';
        Object.assign(m, { regressed: m.regressed + 1, dir: -d, step: m.step / 2, why: `last move ${way} ${what}` });
      } else if (outcome === 'no-effect') {
        Object.assign(m, { noEffect: m.noEffect + 1, dir: d, step: m.step * 2, why: `last move ${way} had no effect, larger step` });
      } else if (FAILED.includes(outcome)) {
        m.fences.push(to);
        Object.assign(m, { dir: -d, step: m.step / 2, why: `last move ${way} to ${to} ended ${outcome}` });
      }
      m.step = clamp(m.step, MIN_STEP, MAX_STEP);

      // What holds around the current value: single moves only (a pair's outcome is not one parameter's).
      const p = byKey.get(move.key)!;
      const ground = sameOthers(lesson.params, current, move.key) && index > (lastForeignChange.get(p.file) ?? -1);
      if (!ground || moves.length > 1) continue;
      const here = p.value;
      if (move.from === here) {
        m.tried.add(to);
        if (WORSE.includes(outcome)) {
          nearer(m.worse, d as Side, to, here);
          // A long move may have stepped over something better: it bounds the side; a short one closes it.
          const scale = scaleOf(p);
          if (Math.abs(scale.to(to) - scale.to(here)) <= NEAR * scale.width) m.regressedFrom[d as Side] = true;
        }
      } else if (kept && to === here) nearer(m.worse, -d as Side, move.from, here);
    }
  });
  for (const p of params) {
    const m = memory.get(p.key)!;
    const closed = ([1, -1] as const).map((d) => m.regressedFrom[d] || atBound(p, d));
    if (closed[0] && closed[1]) m.rest = m.regressedFrom[1] && m.regressedFrom[-1] ? 'regressed both ways' : `regressed ${wayOf(m.regressedFrom[1] ? 1 : -1)}, at the bound the other way`;
    else if (!side(p, m, 1) && !side(p, m, -1)) m.rest = 'no untried value left between the values known to be worse';
  }
  return memory;
}

function nearer(worse: Memory['worse'], d: Side, value: number, here: number): void {
  const known = worse[d];
  if (known === undefined || Math.abs(value - here) < Math.abs(known - here)) worse[d] = value;
}

function atBound(p: Parameter, d: Side): boolean {
  return d > 0 ? p.value >= p.hi : p.value <= p.lo;
}

/** Parameters that helped are drawn more often; ones whose every move did nothing, less. */
function weight(m: Memory): number {
  return (1 + 2 * m.kept) / (m.kept + m.regressed === 0 ? 1 + m.noEffect : 1);
}

/** How a parameter's range is walked: linearly, or on a log scale where the range spans decades. */
interface Scale {
  log: boolean;
  to(x: number): number;
  from(u: number): number;
  width: number;
}

/** Whether a range is searched on a log scale (see LOG_RATIO). */
export function isLogScale(p: Pick<Parameter, 'lo' | 'hi'>): boolean {
  return p.lo > 0 && p.hi / p.lo >= LOG_RATIO;
}

function scaleOf(p: Parameter): Scale {
  const log = isLogScale(p);
  const to = log ? Math.log : (x: number) => x;
  const from = log ? Math.exp : (u: number) => u;
  return { log, to, from, width: to(p.hi) - to(p.lo) };
}

/**
 * Where a move from the current value may go on side `d`: up to `limit`, included only when `open`
 * (an untried bound); past a value known to be worse or a fence, never. Undefined when the side is
 * closed: a move from here regressed there, the value sits at the bound, or no untried value is left.
 */
function side(p: Parameter, m: Memory, d: Side): { limit: number; open: boolean } | undefined {
  const x = clamp(p.value, p.lo, p.hi);
  if (m.regressedFrom[d] || atBound(p, d)) return undefined;
  let limit = d > 0 ? p.hi : p.lo;
  let open = !m.tried.has(limit);
  for (const w of [m.worse[d], ...m.fences]) {
    if (w !== undefined && d * (w - x) > 0 && d * (limit - w) >= 0) [limit, open] = [w, false];
  }
  const scale = scaleOf(p);
  const room = Math.abs(scale.to(limit) - scale.to(x));
  if (p.int) {
    const between = (v: number) => d * (v - x) > 0 && (open ? d * (limit - v) >= 0 : d * (limit - v) > 0);
    const untried = Math.abs(limit - x) - (open ? 0 : 1) - [...m.tried].filter(between).length;
    if (untried <= 0) return undefined;
  } else if (!open && room < MIN_STEP * scale.width) return undefined;
  return { limit, open };
}

interface Mutation {
  value: number;
  literal: string;
  reason: string;
}

function mutate(p: Parameter, m: Memory, rand: () => number, attempt: number): Mutation | undefined {
  const x = clamp(p.value, p.lo, p.hi);
  const open = ([1, -1] as const).filter((d) => side(p, m, d));
  if (open.length === 0) return undefined;
  const preferred = m.dir !== 0 && attempt < FOLLOW_ATTEMPTS && open.includes(m.dir as Side);
  const dir: Side = preferred ? (m.dir as Side) : open.length === 1 ? open[0]! : rand() < 0.5 ? 1 : -1;
  const { limit, open: limitOpen } = side(p, m, dir)!;
  const scale = scaleOf(p);
  const room = Math.abs(scale.to(limit) - scale.to(x));
  // Jitter the step; retries reach geometrically further (a crowded neighbourhood or a minimum step
  // does not end the search early), but never past a value known to be worse: short of that, the
  // move goes to an untried bound, or part of the way to the worse value (half of it, first).
  // Back from a side that is closed (the bound reached, a regression), the step that got here is too
  // long: whatever lies that way was just left for something better. A short probe tells first.
  const step = m.dir !== 0 && dir !== m.dir && !open.includes(m.dir as Side) ? m.step / REVERSE : m.step;
  const wanted = step * (1 / step) ** (attempt / MAX_ATTEMPTS) * (0.5 + rand()) * scale.width;
  const distance = wanted < room ? wanted : limitOpen ? room : room * (attempt === 0 ? 0.5 : 0.1 + 0.8 * rand());
  let to = distance === room ? limit : clamp(scale.from(scale.to(x) + dir * distance), p.lo, p.hi);
  if (p.int) {
    to = Math.round(to);
    if (to === Math.round(x)) to = x + dir; // an int always moves by at least one
  }
  const literal = formatValue(to, p);
  const value = Number(literal);
  if (value === x || m.tried.has(value)) return undefined;
  if (dir * (value - limit) > 0 || (!limitOpen && value === limit)) return undefined;
  if (m.fences.some((f) => (x < f && value >= f) || (x > f && value <= f))) return undefined;
  const way = wayOf(dir);
  const why = m.dir === 0 || dir === m.dir ? m.why : !open.includes(m.dir as Side) ? `${m.why}, closed that way` : `${m.why}; exploring the other way`;
  const scaleNote = scale.log ? `; log scale: ${p.lo}..${p.hi} spans ${Math.log10(p.hi / p.lo).toFixed(1)} decades` : '';
  const pct = Math.max(1, Math.round((Math.abs(scale.to(value) - scale.to(x)) / scale.width) * 100));
  return { value, literal, reason: `step ${way} ${pct}% of ${scale.log ? 'log ' : ''}range; ${why}${scaleNote}` };
}

interface Candidate {
  values: Record<string, number>;
  changes: { param: Parameter; literal: string }[];
  hypothesis: string;
}

/** `movable`: the parameters not at rest. */
function draw(
  movable: Parameter[], memory: Map<string, Memory>, current: Record<string, number>, rand: () => number, attempt: number,
): Candidate | undefined {
  const pool = [...movable];
  const candidate: Candidate = { values: { ...current }, changes: [], hypothesis: '' };
  const parts: string[] = [];
  const n = movable.length > 1 && rand() < TWO_PARAMETERS ? 2 : 1;
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

export function createTuner(): Proposer {
  return {
    name: 'tuner',
    async propose(ctx: ProposeContext): Promise<Proposal[]> {
      const log = (message: string) => ctx.log(`tuner: ${message}`);
      const { params, texts } = await scanParameters(ctx.targetFiles, (file) => ctx.readFile(file), log);
      if (params.length === 0) {
        log(`no annotated parameters in the ${ctx.targetFiles.length} target file(s); ${HOW_TO_ANNOTATE}`);
        return [];
      }

      const memory = learn(params, ctx.lessons, ctx.verdicts);
      const movable = params.filter((p) => !memory.get(p.key)!.rest);
      for (const p of params) {
        const rest = memory.get(p.key)!.rest;
        if (rest) log(`${p.key} rests at ${p.literal} (${rest}) until another parameter or its file changes`);
      }
      if (movable.length === 0) {
        log('every parameter rests: nothing untried is likely to help until the code or a range changes');
        return [];
      }
      const rand = seededRandom(ctx.seed);
      const current = Object.fromEntries(params.map((p) => [p.key, p.value]));
      // Never propose the current values, a value set any earlier lesson tried, or one twice in a batch.
      const seen = new Set([signature(current), ...ctx.lessons.filter((l) => l.params).map((l) => signature(l.params!))]);
      const proposals: Proposal[] = [];
      while (proposals.length < ctx.count && !ctx.signal.aborted) {
        let found: Candidate | undefined;
        for (let attempt = 0; attempt < MAX_ATTEMPTS && !found; attempt++) {
          const c = draw(movable, memory, current, rand, attempt);
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

/** The annotated parameters of these files that rest, and why: what a model proposer is told too. */
export function restingParameters(files: { path: string; content: string }[], lessons: Lesson[], verdicts: Map<string, string>): { param: Parameter; why: string }[] {
  const params = files.flatMap((f) => findParameters(f.path, f.content));
  const memory = learn(params, lessons, verdicts);
  return params.flatMap((param) => {
    const why = memory.get(param.key)!.rest;
    return why ? [{ param, why }] : [];
  });
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
