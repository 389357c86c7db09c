/**
 * The cycle against a fake evaluator: no process is started, so the loop's own logic (what it
 * asks, what it records, what it keeps) is tested in milliseconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Evaluator } from '../../src/core/evaluator';
import { runCycles, type EngineOptions } from '../../src/core/cycle';
import type { Proposal, Proposer } from '../../src/core/proposers/types';
import { UserError } from '../../src/protocol/errors';
import type { EvaluationRequest, EvaluationResult, MeasureRequest, MeasureResult } from '../../src/protocol/evaluation';
import type { RunnerRequests } from '../../src/protocol/runner';

const FILE = 'params.js';

/** A workspace whose metric is the number in params.js (lower is better), noise floor 1%. */
function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rsi-cycle-'));
  mkdirSync(join(dir, '.rsi'));
  writeFileSync(join(dir, FILE), 'module.exports = 100;\n');
  const config = { metric: { name: 'time', command: 'node bench.js', read: 'wallTime', direction: 'minimize' }, targets: [FILE], candidates: 3, noise: { floor: 0.01 } };
  writeFileSync(join(dir, '.rsi', 'config.json'), JSON.stringify(config));
  return dir;
}

const valueOf = (text: string | null | undefined) => Number(/= (\d+)/.exec(text ?? '')?.[1]);
const setTo = (value: number): Proposal => ({ hypothesis: `set to ${value}`, edits: [{ kind: 'file', path: FILE, content: `module.exports = ${value};\n` }] });

/** Proposes the given batches, one a cycle. */
function scripted(...batches: Proposal[][]): Proposer {
  return { name: 'scripted', propose: async () => batches.shift() ?? [] };
}

/**
 * Reads the metric off the files the request names: the candidate's, else the base's, else the
 * workspace's 100. Records every request, and how many evaluations were in flight at once.
 */
class FakeEvaluator implements Evaluator {
  readonly evaluations: EvaluationRequest[] = [];
  readonly measures: MeasureRequest[] = [];
  inFlight = 0;
  mostInFlight = 0;
  constructor(private readonly onEvaluate: (value: number, request: EvaluationRequest) => Promise<EvaluationResult> | EvaluationResult = decide) {}

  async gate() {
    return { ok: true as const, ms: 0 };
  }
  async measure(request: MeasureRequest): Promise<MeasureResult> {
    this.measures.push(request);
    const base = valueOf(request.base[FILE]) || 100;
    const candidate = valueOf(request.candidate[FILE]) || base;
    const pairs = Array.from({ length: request.pairs }, (_, i) => i % 2);
    const comparison = { baseline: { median: base, n: request.pairs }, candidate: { median: candidate, n: request.pairs }, change: candidate / base - 1, ci: [candidate / base - 1.01, candidate / base - 0.99] as [number, number], p: 0.01, level: 0.95, method: 'paired-log' as const };
    return { ok: true, baseline: pairs.map((j) => base + j), candidate: pairs.map((j) => candidate + j), comparison, peakRssBytes: { baseline: 1, candidate: 1 } };
  }
  async evaluate(request: EvaluationRequest): Promise<EvaluationResult> {
    this.evaluations.push(request);
    this.mostInFlight = Math.max(this.mostInFlight, ++this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      return await this.onEvaluate(valueOf(request.candidate[FILE]), request);
    } finally {
      this.inFlight--;
    }
  }
  async release() {}
}

/** Kept when the value is below the base's, regressed otherwise. */
function decide(value: number, request: EvaluationRequest): EvaluationResult {
  const base = valueOf(request.base[FILE]);
  const change = value / base - 1;
  const comparison = { baseline: { median: base, n: 4 }, candidate: { median: value, n: 4 }, change, ci: [change - 0.001, change + 0.001] as [number, number], p: 0.001, level: 0.95, method: 'paired-log' as const };
  return { outcome: change < 0 ? 'kept' : 'regressed', measurement: { comparison, runs: { baseline: [base], candidate: [value] }, phases: [4], floor: 0.01 }, worker: 'fake/1' };
}

const noRunner: RunnerRequests = { request: () => Promise.reject(new Error('the cycle must not ask the runner directly')) };

function options(ws: string, evaluator: Evaluator, proposer: Proposer): EngineOptions {
  return { workspace: ws, evaluator, runner: noRunner, storageRoot: join(ws, '..'), proposer };
}

function lessons(ws: string) {
  return readFileSync(join(ws, '.rsi', 'lessons.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
}

test('a cycle sends every candidate whole, at once, each against the same snapshot, and records who measured it', async () => {
  const ws = workspace();
  const evaluator = new FakeEvaluator();
  const summary = await runCycles(options(ws, evaluator, scripted([setTo(90), setTo(120), setTo(80)])), 1);
  assert.equal(evaluator.evaluations.length, 3);
  assert.equal(evaluator.mostInFlight, 3, 'the cycle dispatches the batch; the evaluator decides how many run together');
  for (const request of evaluator.evaluations) {
    assert.equal(request.base[FILE], 'module.exports = 100;\n', 'each request names its base: no state from an earlier one');
    assert.deepEqual(request.gate, []);
    assert.equal(request.sampling.noiseFloor, 0.01);
  }
  const recorded = lessons(ws);
  assert.deepEqual(recorded.map((l) => l.outcome).sort(), ['kept', 'kept', 'regressed']);
  assert.ok(recorded.every((l) => l.worker === 'fake/1'));
  // Two were kept: the winner is chosen on fresh pairs, not on the estimates that kept them.
  assert.equal(summary.cycles[0]!.headToHead?.length, 2);
  assert.equal(summary.cycles[0]!.winner?.hypothesis, 'set to 80');
});

test('kept candidates race on fresh pairs: a clear winner ends it early, close ones run to the cap', async () => {
  const headToHeadPairs = (evaluator: FakeEvaluator) => {
    const pairs = new Map<string, number>();
    // Rounds of minRuns (5) made even; the run's final measurement takes maxRuns (40) at once.
    for (const m of evaluator.measures.filter((m) => m.candidate[FILE] && m.pairs <= 6)) pairs.set(m.candidate[FILE]!, (pairs.get(m.candidate[FILE]!) ?? 0) + m.pairs);
    return pairs;
  };
  const clear = new FakeEvaluator();
  const won = await runCycles(options(workspace(), clear, scripted([setTo(90), setTo(60)])), 1);
  assert.equal(won.cycles[0]!.winner?.hypothesis, 'set to 60');
  const raced = [...headToHeadPairs(clear).values()];
  assert.equal(raced.length, 2);
  assert.ok(raced.every((pairs) => pairs < 40), `40% is told from 10% long before the cap: ${raced}`);

  const close = new FakeEvaluator();
  const twin = (tag: string): Proposal => ({ hypothesis: `set to 90, ${tag}`, edits: [{ kind: 'file', path: FILE, content: `module.exports = 90; // ${tag}\n` }] });
  const tied = await runCycles(options(workspace(), close, scripted([twin('a'), twin('b')])), 1);
  assert.deepEqual([...headToHeadPairs(close).values()], [40, 40], 'neither can be told from the other before the cap');
  assert.deepEqual(tied.cycles[0]!.headToHead?.map((h) => h.comparison.candidate.n), [40, 40]);
});

test("a kept winner is the next cycle's base, in the requests, not in the user's file", async () => {
  const ws = workspace();
  const evaluator = new FakeEvaluator();
  const summary = await runCycles(options(ws, evaluator, scripted([setTo(90)], [setTo(70)])), 2);
  assert.equal(evaluator.evaluations[1]!.base[FILE], 'module.exports = 90;\n');
  // Each cycle is an epoch: the evaluator reads the workspace's other files again for the next one.
  const [first, second] = evaluator.evaluations.map((r) => r.epoch);
  assert.ok(first && second && first !== second);
  assert.equal(evaluator.measures[0]!.epoch, first, "the cycle's baseline runs share its candidates' epoch");
  assert.equal(readFileSync(join(ws, FILE), 'utf8'), 'module.exports = 100;\n');
  assert.deepEqual(summary.proposal?.changes.map((c) => [c.before, c.after]), [['module.exports = 100;\n', 'module.exports = 70;\n']]);
  // The run's change is measured at its end: the original files against the final ones.
  const last = evaluator.measures.at(-1)!;
  assert.equal(last.base[FILE], 'module.exports = 100;\n');
  assert.equal(last.candidate[FILE], 'module.exports = 70;\n');
});

test('a duplicate within a batch is caught before dispatch', async () => {
  const ws = workspace();
  const evaluator = new FakeEvaluator();
  await runCycles(options(ws, evaluator, scripted([setTo(90), { ...setTo(90), hypothesis: 'the same again' }])), 1);
  assert.equal(evaluator.evaluations.length, 1);
  assert.deepEqual(lessons(ws).map((l) => l.outcome).sort(), ['duplicate', 'kept']);
});

test("an evaluator's user error is that candidate's invalid lesson; the program's own error stops the run", async () => {
  const ws = workspace();
  const refuse = new FakeEvaluator((value, request) => {
    if (value === 90) throw new UserError('the sandbox refuses that path');
    return decide(value, request);
  });
  await runCycles(options(ws, refuse, scripted([setTo(90), setTo(80)])), 1);
  const recorded = lessons(ws);
  assert.deepEqual(recorded.map((l) => [l.hypothesis, l.outcome]).sort(), [['set to 80', 'kept'], ['set to 90', 'invalid']]);
  assert.match(recorded.find((l) => l.outcome === 'invalid').detail, /refuses that path/);

  const broken = new FakeEvaluator(() => {
    throw new TypeError('a bug');
  });
  await assert.rejects(runCycles(options(workspace(), broken, scripted([setTo(90)])), 1), /a bug/);
});

test('guards travel in every evaluation request, are checked on the baseline first, and their results land in the lesson', async () => {
  const ws = workspace();
  const config = JSON.parse(readFileSync(join(ws, '.rsi', 'config.json'), 'utf8'));
  const guards = [{ name: 'rss', command: 'node rss.js', read: { json: 'rss' }, direction: 'minimize', tolerance: 0.1 }];
  writeFileSync(join(ws, '.rsi', 'config.json'), JSON.stringify({ ...config, guards }));
  const stopped = (value: number, request: EvaluationRequest): EvaluationResult => {
    const kept = decide(value, request);
    if (kept.outcome !== 'kept') return kept;
    const comparison = { baseline: { median: 10, n: 6 }, candidate: { median: 20, n: 6 }, change: 1, ci: [1, 1] as [number, number], p: 0, level: 0.95, method: 'paired-log' as const };
    return { ...kept, outcome: 'guard-failed', detail: 'guard "rss" worse', guards: [{ name: 'rss', direction: 'minimize', tolerance: 0.1, passed: false, comparison, runs: { baseline: [10], candidate: [20] } }] };
  };
  const evaluator = new FakeEvaluator(stopped);
  const summary = await runCycles(options(ws, evaluator, scripted([setTo(90)])), 1);
  assert.deepEqual(evaluator.evaluations[0]!.guards, [{ name: 'rss', metric: { command: 'node rss.js', read: { json: 'rss' }, timeoutMs: 120000, outputBytes: 1048576 }, direction: 'minimize', tolerance: 0.1 }]);
  assert.equal(evaluator.measures[0]!.metric.command, 'node rss.js', 'the guard runs on the baseline before anything else is measured');
  const [lesson] = lessons(ws);
  assert.equal(lesson.outcome, 'guard-failed');
  assert.deepEqual(lesson.guards, [{ name: 'rss', direction: 'minimize', baseline: { median: 10, n: 6 }, candidate: { median: 20, n: 6 }, change: 1, ci: [1, 1], p: 0, level: 0.95, method: 'paired-log', runs: { baseline: [10], candidate: [20] }, tolerance: 0.1, passed: false }]);
  assert.equal(summary.cycles[0]!.winner, undefined, 'a guard-failed candidate is not kept');
  assert.deepEqual(summary.outcomes, { 'guard-failed': 1 });
});

test('a guard that fails on the baseline stops the run before any candidate, in one sentence', async () => {
  const ws = workspace();
  const config = JSON.parse(readFileSync(join(ws, '.rsi', 'config.json'), 'utf8'));
  writeFileSync(join(ws, '.rsi', 'config.json'), JSON.stringify({ ...config, guards: [{ name: 'rss', command: 'node rss.js', read: 'wallTime', direction: 'minimize' }] }));
  class Failing extends FakeEvaluator {
    override async measure(request: MeasureRequest): Promise<MeasureResult> {
      if (request.metric.command === 'node rss.js') throw new UserError('the baseline metric command exited with code 1\n');
      return super.measure(request);
    }
  }
  const evaluator = new Failing();
  await assert.rejects(runCycles(options(ws, evaluator, scripted([setTo(90)])), 1), {
    message: 'guard "rss" fails on the unmodified workspace: the baseline metric command exited with code 1; check its command and read in the guards of .rsi/config.json',
  });
  assert.equal(evaluator.evaluations.length, 0);
});
