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

/** Positive ranges spanning more than a decade are searched on a log scale: 0.001..1 moves by factors, not by thousandths. */
export function isLogScale(p: Pick<Parameter, 'lo' | 'hi'>): boolean {
  return p.lo > 0 && p.hi / p.lo > 10;
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
  const log = isLogScale(p);
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
