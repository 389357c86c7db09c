import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EvaluationPhase, EvaluationProgress, EvaluationRequest, EvaluationResult, GuardResult, GuardSpec, Overlay, Sampling, Target } from '../protocol/evaluation';
import type { MetricSpec } from '../protocol/metric';
import type { RunnerRequests } from '../protocol/runner';
import { measureNoise, readCalibration, writeCalibration, type Calibration } from './calibration';
import { combine, type Combination } from './combine';
import { guardSpecs, loadConfig, metricSpec, minEffect, type ProposerKind, type RsiConfig } from './config';
import { contextPrompt, historyFromRunner, profileFromRunner } from './context';
import { describeCalibration, metricValue } from './format';
import { appendRecords, newLessonId, readLessons, type Lesson, type LessonGuard, type LessonLog, type LessonMetric, type Outcome } from './lessons';
import { unifiedDiff, validateProposal, type Candidate, type FileChange } from './patch';
import { createProposer, ProposerError, proposerForKind, type ProposerOptions } from './proposers';
import type { Proposal, Proposer } from './proposers/types';
import { errorKind, UserError, userMessage } from '../protocol/errors';
import type { Evaluator } from './evaluator';
import { compare as compareRuns, gainSign, isConstant, median, pairSpread, type Comparison } from './stats';
import { checkTargets } from './targets';
import { listTargetFiles, readTextOrNull, replaceIfUnchanged } from './workspace';

export interface EngineOptions {
  workspace: string;
  /** Where candidates are gated and measured: one runner, a pool, a queue of workers. */
  evaluator: Evaluator;
  /** This machine's runner, for what the context reads of the workspace (git history, a profile). */
  runner: RunnerRequests;
  /** Where sandboxes live, outside the workspace. */
  storageRoot: string;
  /** Overrides the config's proposer: a kind (the CLI's --proposer, a setting) or a ready proposer. */
  proposer?: Proposer | ProposerKind;
  /** What proposers need from the caller: the editor's API key and language models. */
  proposerOptions?: ProposerOptions;
  /** Write each kept winner to the workspace at once; otherwise winners stay a pending proposal. */
  autoAccept?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: EngineEvent) => void;
}

export type Stage = 'prepare' | 'baseline' | 'calibrate' | 'propose' | 'candidate';

export type EngineEvent =
  | { kind: 'stage'; cycle: number; stage: Stage; message: string }
  /** A candidate's progress: which of how many, and the runs made so far on each side. */
  | { kind: 'candidate'; cycle: number; index: number; total: number; hypothesis: string; phase: EvaluationPhase; runs: { baseline: number; candidate: number }; worker?: string }
  | { kind: 'calibration'; pairs: number; total: number }
  | { kind: 'lesson'; cycle: number; lesson: Lesson }
  | { kind: 'cycle'; report: CycleReport }
  /** `debug`: the engine's own housekeeping, for a log rather than a user's terminal. */
  | { kind: 'log'; message: string; debug?: boolean };

export interface BaselineStats {
  median: number;
  n: number;
  values: number[];
  deterministic: boolean;
  peakRssBytes: number;
}

/**
 * What a run's summary keeps of a lesson: enough to report it (the detail's first line). The whole
 * lesson is in the lessons file; keeping every patch would grow a long run's memory every cycle.
 */
export type LessonBrief = Pick<Lesson, 'id' | 'hypothesis' | 'outcome' | 'metric' | 'guards' | 'detail'>;

export interface CycleReport {
  cycle: number;
  baseline: BaselineStats;
  noiseFloor: number;
  lessons: LessonBrief[];
  /** The best kept candidate of this cycle: the next cycle's baseline. */
  winner?: Lesson;
  /** When several were kept: each one re-measured on fresh pairs, which chose the winner. */
  headToHead?: { lesson: string; comparison: Comparison }[];
}

/** The accumulated change of the kept winners, not yet in the user's files. */
export interface PendingProposal {
  /** `before` is the workspace's content when the run started: applying checks it is still there. */
  changes: FileChange[];
  patch: string;
  /** Lesson ids of the winners it is made of, oldest first. */
  lessons: string[];
}

export interface RunSummary {
  workspace: string;
  metric: { name: string; direction: RsiConfig['metric']['direction'] };
  cycles: CycleReport[];
  /** Outcome counts over all candidates of the run. */
  outcomes: Partial<Record<Outcome, number>>;
  /** Winners that were written to the workspace (auto-accept). */
  applied: Lesson[];
  proposal?: PendingProposal;
  /**
   * The run's whole change, measured at its end: the original files against the final ones,
   * interleaved. Unlike the kept lessons' estimates, it is not inflated by having been chosen.
   */
  accumulated?: Comparison;
  cancelled: boolean;
  /** Why the run ended before its cycles were done, when a proposer failed after some cycles ran. */
  stopReason?: string;
  durationMs: number;
}

/** A problem of the workspace that stops the run before any candidate: the message says what to fix. */
export class EngineStop extends UserError {
  override name = 'EngineStop';
}

/** Runs `count` cycles. Each kept winner becomes the next cycle's baseline inside the sandbox. */
export async function runCycles(options: EngineOptions, count: number): Promise<RunSummary> {
  const started = performance.now();
  const config = await loadConfig(options.workspace);
  const loop = new Loop(options, config);
  await checkTargets(options.workspace, config, loop.proposer.name);
  const summary: RunSummary = {
    workspace: options.workspace,
    metric: { name: config.metric.name, direction: config.metric.direction },
    cycles: [],
    outcomes: {},
    applied: [],
    cancelled: false,
    durationMs: 0,
  };
  try {
    for (let i = 0; i < count && !options.signal?.aborted; i++) {
      const report = await loop.cycle();
      summary.cycles.push({ ...report, lessons: report.lessons.map(brief) });
      for (const lesson of report.lessons) summary.outcomes[lesson.outcome] = (summary.outcomes[lesson.outcome] ?? 0) + 1;
      if (report.winner && options.autoAccept) {
        if (await loop.applyWinner(report.winner)) summary.applied.push(report.winner);
      }
      options.onEvent?.({ kind: 'cycle', report });
    }
    if (!options.signal?.aborted) summary.accumulated = await loop.measureAccumulated();
  } catch (err) {
    // A proposer failing in a later cycle (an endpoint gone away) ends the run, not its summary.
    if (err instanceof ProposerError && summary.cycles.length > 0) summary.stopReason = err.message;
    else if (!isCancel(err, options.signal)) throw err;
  } finally {
    await options.evaluator.release().catch(() => undefined);
  }
  summary.cancelled = options.signal?.aborted ?? false;
  summary.proposal = loop.pendingProposal();
  summary.durationMs = Math.round(performance.now() - started);
  return summary;
}

function brief({ id, hypothesis, outcome, metric, guards, detail }: LessonBrief): LessonBrief {
  return { id, hypothesis, outcome, ...(metric && { metric }), ...(guards && { guards }), ...(detail !== undefined && { detail: detail.split('\n')[0] }) };
}

function isCancel(err: unknown, signal?: AbortSignal): boolean {
  return (err as Error)?.name === 'CancelledError' || (signal?.aborted ?? false);
}

class Loop {
  /** Baseline content of files changed by kept winners, keyed by workspace-relative path. */
  private readonly overlay = new Map<string, string | null>();
  /** The workspace's content of those files when the run started (null: did not exist). */
  private readonly origins = new Map<string, string | null>();
  private readonly winners: string[] = [];
  /** Every file a kept winner changed in this run: its content at the start, and at the end. */
  private readonly runStart = new Map<string, string | null>();
  private readonly runEnd = new Map<string, string | null>();
  private lastFloor = 0;
  /** This cycle's validated candidates by lesson id, to find the winner's file contents. */
  private readonly candidates = new Map<string, Candidate>();
  /**
   * The target files as this cycle measured them: read once when the cycle starts and written into
   * the sandboxes, so that proposals, validation and measurement all see the same text, and an
   * edit the user makes meanwhile is told apart from it when a winner is applied.
   */
  private snapshot = new Map<string, string | null>();
  /** Values that must never be recorded: the proposer's API key. */
  private readonly secrets: string[];
  private calibration: Calibration | undefined;
  /** The last cycle's co-winners merged onto its winner: the next cycle tries it first. */
  private combination: Combination | undefined;
  private gatePassed = false;
  readonly proposer: Proposer;
  /** The last cycle's number: a cycle that recorded no lesson still counts. */
  private cycleNumber = 0;
  private readonly metric: MetricSpec;
  private readonly guards: GuardSpec[];

  constructor(private readonly options: EngineOptions, private readonly config: RsiConfig) {
    const override = options.proposer;
    const proposerOptions = { ...options.proposerOptions, workspace: options.workspace };
    this.proposer =
      override === undefined
        ? createProposer(config.proposer, proposerOptions)
        : typeof override === 'string'
          ? proposerForKind(override, config.proposer, proposerOptions)
          : override;
    this.metric = metricSpec(config);
    this.guards = guardSpecs(config);
    const keyEnv = typeof config.proposer === 'object' && 'apiKeyEnv' in config.proposer ? config.proposer.apiKeyEnv : undefined;
    this.hiddenEnv = keyEnv ? [keyEnv] : [];
    this.secrets = [options.proposerOptions?.apiKey, keyEnv && process.env[keyEnv]].filter((s): s is string => !!s && s.length >= 4);
  }

  /** Environment variables workspace commands never get: a candidate could print them into a lesson. */
  private readonly hiddenEnv: string[];

  async cycle(): Promise<CycleReport> {
    const { workspace, evaluator } = this.options;
    const lessonLog = await readLessons(workspace);
    const cycle = (this.cycleNumber = lessonLog.lessons.reduce((max, l) => Math.max(max, l.cycle), this.cycleNumber) + 1);
    const stage = (s: Stage, message: string) => this.emit({ kind: 'stage', cycle, stage: s, message });

    stage('prepare', 'preparing the sandboxes');
    await evaluator.idle?.();
    await this.takeSnapshot();

    if (!this.gatePassed) {
      stage('baseline', 'running the gate on the unmodified workspace');
      const gate = await evaluator.gate({ ...this.base(), side: 'baseline', commands: this.config.gate, limits: this.limits() }, this.request());
      if (!gate.ok) {
        throw new EngineStop(this.mask(`the gate fails on the unmodified workspace: \`${gate.command}\` ${gate.reason}; fix it before running a cycle\n${gate.output}`));
      }
      await this.checkGuards();
      this.gatePassed = true;
    }
    const { baseline, noiseFloor } = await this.measureBaseline(cycle);
    this.lastFloor = noiseFloor;

    stage('propose', `asking the ${this.proposer.name} proposer for ${this.config.candidates} candidates`);
    const proposals = [...(await this.takeCombination()), ...(await this.propose(cycle, lessonLog, baseline, noiseFloor))];
    const tried = new Set(lessonLog.lessons.map((l) => l.patchHash));
    // Every proposal is checked before any is dispatched, so a duplicate within the batch is caught
    // too; then the evaluator runs as many at once as it honestly can. Each lesson is recorded as
    // soon as it is decided: a crash loses none that were.
    const checked: Checked[] = [];
    for (const [index, proposal] of proposals.entries()) {
      checked.push(await this.check(proposal, { cycle, index, total: proposals.length, baseline, noiseFloor }, tried));
    }
    const lessons = await Promise.all(
      checked.map(async (c) => {
        const lesson = c.kind === 'decided' ? c.lesson : await this.evaluate(c);
        await this.record(lesson);
        return lesson;
      }),
    );

    const report: CycleReport = { cycle, baseline, noiseFloor, lessons };
    Object.assign(report, await this.chooseWinner(lessons, baseline, noiseFloor));
    if (report.winner) this.keep(this.candidates.get(report.winner.id)!, report.winner);
    this.combination = report.winner && this.combineCoWinners(report.winner, lessons);
    this.candidates.clear();
    return report;
  }

  /** Every guard must give its number on the unmodified workspace (one A/A pair), before any candidate is judged by it. */
  private async checkGuards(): Promise<void> {
    for (const guard of this.guards) {
      const sampling = { ...this.sampling(0, false), direction: guard.direction, minEffect: 0 };
      const fails = (why: string) => {
        const [first, ...rest] = why.split('\n');
        const output = rest.join('\n').trim();
        return new EngineStop(this.mask(`guard "${guard.name}" fails on the unmodified workspace: ${first}; check its command and read in the guards of .rsi/config.json${output ? `\n${output}` : ''}`));
      };
      // The baseline side runs first: its failure comes back as the user's error, without a hint of its own.
      const aa = await this.options.evaluator.measure({ ...this.base(), metric: guard.metric, sampling, pairs: 1, fixHint: '' }, this.request()).catch((err: unknown) => {
        throw errorKind(err) === 'user' ? fails(userMessage(err)) : err;
      });
      if (!aa.ok) throw fails(aa.detail);
    }
  }

  /**
   * The baseline's sample and this cycle's noise floor. The baseline runs as A/A pairs (both
   * sandboxes hold it now), so the cycle sees the machine's noise as it is now: when the pairs'
   * spread differs from the calibration's beyond chance (another load, another tenant), the floor is
   * measured afresh. A fresh measurement's runs are the baseline's sample. Deterministic only when
   * the calibration proved it (zero spread over all its runs) and this cycle's pair agrees: a few
   * equal values from a coarse timer prove nothing.
   */
  private async measureBaseline(cycle: number): Promise<{ baseline: BaselineStats; noiseFloor: number }> {
    // A kept winner's runs are not reused as the new baseline: a fresh sample keeps cycles independent.
    this.emit({ kind: 'stage', cycle, stage: 'baseline', message: 'measuring the baseline (A/A pairs)' });
    const configured = this.config.noise.floor;
    this.calibration ??= await readCalibration(this.options.workspace, this.config);
    if (!this.calibration && configured === null) return this.calibrate(cycle, 'calibrating the noise floor (A/A runs), once per workspace and machine');
    const proven = this.calibration?.deterministic === true;
    const aa = await this.options.evaluator.measure(
      { ...this.base(), metric: this.metric, sampling: this.sampling(0, false), pairs: proven ? 1 : this.config.sampling.minRuns },
      this.request(),
    );
    if (!aa.ok) throw new EngineStop(`the metric fails on the unmodified workspace: ${aa.detail}`);
    const values = [...aa.baseline, ...aa.candidate];
    const deterministic = proven && isConstant(values);
    if (configured === null && this.calibration) {
      const changed = proven && !deterministic ? 'the calibration found the metric deterministic, but its A/A runs now differ' : this.noiseChanged(aa.baseline, aa.candidate);
      if (changed) return this.calibrate(cycle, `${changed}: measuring the noise floor again`);
    }
    const baseline = { median: median(values), n: values.length, values, deterministic, peakRssBytes: Math.max(aa.peakRssBytes.baseline, aa.peakRssBytes.candidate) };
    this.log(`baseline ${this.config.metric.name} = ${metricValue(baseline.median)} (n=${baseline.n}${deterministic ? ', deterministic' : ''})`);
    return { baseline, noiseFloor: configured ?? (deterministic ? 0 : this.calibration!.floor) };
  }

  /**
   * Why this cycle's A/A pairs say the noise is not the calibration's, or undefined. Variance ratio
   * against the calibration's pairs, two-sided at 1% on log(F) (standard error sqrt(2/df1 + 2/df2)):
   * strict because a false alarm costs a whole calibration, and a real change (a CPU hog starting,
   * which doubles a wall-time spread) is far beyond it. The load average is only recorded: this
   * loop's own runs are part of it.
   */
  private noiseChanged(a: number[], b: number[]): string | undefined {
    const calibration = this.calibration!;
    const pairs = Math.min(a.length, b.length);
    const spread = pairSpread(a, b);
    if (pairs < 3 || !(spread > 0 && calibration.pairSpread > 0)) return undefined;
    const logF = 2 * Math.log(spread / calibration.pairSpread);
    const se = Math.sqrt(2 / (pairs - 1) + 2 / Math.max(1, calibration.runs - 1));
    if (Math.abs(logF) <= 2.576 * se) return undefined;
    return `the A/A pairs now spread ${(spread / calibration.pairSpread).toFixed(1)}x as much as at calibration`;
  }

  /** Measures the noise floor afresh, stores it, and uses its runs as the baseline's sample. */
  private async calibrate(cycle: number, message: string): Promise<{ baseline: BaselineStats; noiseFloor: number }> {
    this.emit({ kind: 'stage', cycle, stage: 'calibrate', message });
    const previous = this.calibration;
    const { calibration, values, peakRssBytes } = await measureNoise(this.options, this.config, this.metric, this.base());
    await writeCalibration(this.options.workspace, calibration);
    this.calibration = calibration;
    this.log(describeCalibration(calibration, previous));
    const all = [...values.baseline, ...values.candidate];
    const baseline = { median: median(all), n: all.length, values: all, deterministic: calibration.deterministic, peakRssBytes };
    this.log(`baseline ${this.config.metric.name} = ${metricValue(baseline.median)} (n=${baseline.n}${baseline.deterministic ? ', deterministic' : ''})`);
    return { baseline, noiseFloor: this.config.noise.floor ?? calibration.floor };
  }

  private sampling(noiseFloor: number, deterministic: boolean): Sampling {
    const { minRuns, maxRuns, alpha, pinPairs } = this.config.sampling;
    return { minRuns, maxRuns, alpha, noiseFloor, minEffect: minEffect(this.config, deterministic), direction: this.config.metric.direction, deterministic, pinPairs };
  }

  private async propose(cycle: number, lessonLog: LessonLog, baseline: BaselineStats, noiseFloor: number): Promise<Proposal[]> {
    const { workspace, runner, storageRoot, signal } = this.options;
    // A kept winner's files are targets too, and the ones it deleted are gone.
    const targetFiles = (await listTargetFiles(workspace, this.config.targets, this.config.protected)).filter((file) => this.overlay.get(file) !== null);
    for (const [file, text] of this.overlay) if (text !== null && !targetFiles.includes(file)) targetFiles.push(file);
    const readFile = async (rel: string) => (await this.readBase(rel)) ?? '';
    // Built on the first ask only: the tuner never asks, so its cycles pay nothing for the git history.
    let prompt: Promise<string> | undefined;
    const buildPrompt = () =>
      contextPrompt({
        workspace,
        config: this.config,
        targetFiles,
        readFile,
        lessons: lessonLog.lessons,
        verdicts: lessonLog.verdicts,
        baseline,
        noiseFloor,
        history: historyFromRunner(runner, workspace, storageRoot, this.config, signal),
        profile: profileFromRunner(runner, workspace, storageRoot, this.config, { ...this.base(), signal, log: (message) => this.log(message) }),
        log: (message) => this.log(message),
      });
    return this.proposer.propose({
      scope: { targets: this.config.targets, protected: this.config.protected },
      targetFiles,
      readFile,
      prompt: () => (prompt ??= buildPrompt()),
      count: this.config.candidates,
      cycle,
      seed: (this.config.seed * 7919 + cycle) >>> 0,
      lessons: lessonLog.lessons,
      verdicts: lessonLog.verdicts,
      metric: { name: this.config.metric.name, direction: this.config.metric.direction },
      signal: signal ?? new AbortController().signal,
      log: (message) => this.log(message),
    });
  }

  /**
   * A proposal's lesson when it needs no run (invalid, a duplicate), else the candidate to evaluate.
   * `tried` gains its patch, so a later proposal of the same batch is a duplicate.
   */
  private async check(proposal: Proposal, at: Position, tried: Set<string>): Promise<Checked> {
    const started = performance.now();
    const id = newLessonId();
    const lesson = (outcome: Outcome, fields: Partial<Lesson>): Lesson => withNote(proposal.note, {
      v: 1,
      id,
      time: new Date().toISOString(),
      cycle: at.cycle,
      proposer: this.proposer.name,
      hypothesis: proposal.hypothesis,
      files: [],
      patch: '',
      patchHash: '',
      outcome,
      durationMs: Math.round(performance.now() - started),
      ...(proposal.seed !== undefined && { seed: proposal.seed }),
      ...(proposal.params && { params: proposal.params }),
      ...(this.winners.length > 0 && { baseWinners: [...this.winners] }),
      ...(proposal.parents && { parents: proposal.parents }),
      ...fields,
      ...(fields.detail !== undefined && { detail: this.mask(fields.detail) }),
    });
    const validation = await validateProposal(proposal, {
      workspace: this.options.workspace,
      targets: this.config.targets,
      protected: this.config.protected,
      readBase: (rel) => this.readBase(rel),
    });
    if (!validation.ok) {
      const raw = proposal.raw ? `\n--- proposer output (first 4000 characters) ---\n${proposal.raw.slice(0, 4000)}` : '';
      return { kind: 'decided', lesson: lesson('invalid', { files: validation.files, patch: validation.patch, detail: validation.reason + raw }) };
    }
    const candidate = validation.candidate;
    const recorded = { files: candidate.changes.map((c) => c.path), patch: candidate.patch, patchHash: candidate.patchHash };
    if (tried.has(candidate.patchHash)) return { kind: 'decided', lesson: lesson('duplicate', { ...recorded, detail: 'the same change was tried before' }) };
    tried.add(candidate.patchHash);
    this.candidates.set(id, candidate);
    return { kind: 'candidate', at, hypothesis: proposal.hypothesis, candidate, lesson: (outcome, fields) => lesson(outcome, { ...recorded, ...fields }) };
  }

  /** A checked candidate through the evaluator: its gate, its comparison, a re-test if it looks better. */
  private async evaluate({ at, hypothesis, candidate, lesson }: Extract<Checked, { kind: 'candidate' }>): Promise<Lesson> {
    const request: EvaluationRequest = {
      ...this.base(),
      candidate: changedFiles(candidate),
      gate: this.config.gate,
      limits: this.limits(),
      metric: this.metric,
      sampling: this.sampling(at.noiseFloor, at.baseline.deterministic),
      confirm: this.config.sampling.confirm,
      memoryLimitBytes: this.memoryLimit(at.baseline),
      constantBaseline: at.baseline.deterministic ? at.baseline.median : undefined,
      ...(this.guards.length > 0 && { guards: this.guards }),
    };
    const progress = (event: EvaluationProgress) => {
      if (event.kind === 'log') return this.log(event.message, event);
      const { phase, runs, worker } = event;
      this.emit({ kind: 'candidate', cycle: at.cycle, index: at.index, total: at.total, hypothesis, phase, runs, ...(worker && { worker }) });
    };
    let result: EvaluationResult;
    try {
      result = await this.options.evaluator.evaluate(request, { signal: this.options.signal, onProgress: progress });
    } catch (err) {
      // The sandbox refused a path the validation let through: this candidate is invalid, the run goes on.
      if (errorKind(err) !== 'user') throw err;
      return lesson('invalid', { detail: userMessage(err) });
    }
    const { outcome, detail, measurement, guards, worker } = result;
    return lesson(outcome, {
      ...(measurement && { metric: toLessonMetric(this.config, measurement) }),
      ...(guards?.length && { guards: guards.map(toLessonGuard) }),
      ...(detail !== undefined && { detail }),
      ...(worker && { worker }),
    });
  }

  /** Lessons are appended one at a time, in the order they are decided. */
  private record(lesson: Lesson): Promise<void> {
    const appended = this.appending.then(() => appendRecords(this.options.workspace, [lesson]));
    this.appending = appended.catch(() => undefined);
    return appended.then(() => this.emit({ kind: 'lesson', cycle: lesson.cycle, lesson }));
  }

  private appending: Promise<void> = Promise.resolve();

  private memoryLimit(baseline: BaselineStats): number | undefined {
    return baseline.peakRssBytes > 0 ? Math.round(baseline.peakRssBytes * (1 + this.config.limits.memoryGrowth)) : undefined;
  }

  /**
   * The winner among this cycle's kept candidates. Each kept one's estimate was the one that
   * happened to clear the bar, so the largest of them is biased upwards (the winner's curse): when
   * several are kept, they race on fresh pairs against the same baseline, and the best fresh
   * estimate wins. They take their pairs in rounds, side by side, so a drift of the machine falls on
   * all alike. After each round, one whose interval lies wholly on the losing side of another's
   * drops out: the intervals hold at every look, so a drop is as safe as a decision, and a clear
   * winner costs a round or two instead of the cap for every candidate. Those that stay close run
   * to maxRuns pairs each. A deterministic metric has no curse: its estimates are exact.
   */
  private async chooseWinner(lessons: Lesson[], baseline: BaselineStats, noiseFloor: number): Promise<Pick<CycleReport, 'winner' | 'headToHead'>> {
    const kept = lessons.filter((l) => l.outcome === 'kept' && l.metric);
    if (kept.length < 2 || baseline.deterministic) return { winner: bestKept(kept, this.config.metric.direction) };
    const { minRuns, maxRuns, alpha } = this.config.sampling;
    const sign = gainSign(this.config.metric.direction);
    // Even rounds: each request starts its pairs baseline-first, so an odd round would favour one order.
    const round = Math.ceil(minRuns / 2) * 2;
    const racing = kept.map((lesson) => ({ lesson, runs: { baseline: [] as number[], candidate: [] as number[] }, comparison: undefined as Comparison | undefined }));
    let left = racing;
    for (let pairs = 0; left.length > 1 && pairs < maxRuns; pairs += round) {
      const size = Math.min(round, maxRuns - pairs);
      this.log(`head-to-head: ${left.length} kept candidates, ${size} fresh pairs each (${pairs + size} of at most ${maxRuns})`);
      const results = await Promise.all(
        left.map(({ lesson }) =>
          this.options.evaluator.measure(
            { ...this.base(), candidate: changedFiles(this.candidates.get(lesson.id)!), metric: this.metric, sampling: this.sampling(noiseFloor, false), memoryLimitBytes: this.memoryLimit(baseline), pairs: size },
            this.request(),
          ),
        ),
      );
      // One that fails on a fresh run (a crash the decision's runs missed) leaves the race.
      left = left.filter((racer, i) => {
        const fresh = results[i]!;
        if (!fresh.ok) return false;
        racer.runs.baseline.push(...fresh.baseline);
        racer.runs.candidate.push(...fresh.candidate);
        racer.comparison = compareRuns(racer.runs.baseline, racer.runs.candidate, alpha, maxRuns);
        return true;
      });
      // The largest gain some candidate is sure of (the worse end of its interval): one that cannot reach it is behind.
      const surestGain = Math.max(...left.map(({ comparison: c }) => Math.min(sign * c!.ci[0], sign * c!.ci[1])));
      left = left.filter(({ comparison: c }) => Math.max(sign * c!.ci[0], sign * c!.ci[1]) >= surestGain);
    }
    const headToHead = racing.flatMap(({ lesson, comparison }) => (comparison ? [{ lesson: lesson.id, comparison }] : []));
    const best = left.reduce<(typeof left)[number] | undefined>((b, r) => (!b || sign * r.comparison!.change > sign * b.comparison!.change ? r : b), undefined);
    return { winner: best?.lesson ?? bestKept(kept, this.config.metric.direction), headToHead };
  }

  /**
   * The run's whole change: the original files against the final ones, interleaved on maxRuns
   * fresh pairs at the end of the run (the sandboxes are prepared for it). Undefined when nothing
   * was kept, or when the final side fails.
   */
  async measureAccumulated(): Promise<Comparison | undefined> {
    if (this.runStart.size === 0) return undefined;
    // A deterministic metric's difference is exact: one pair says it.
    const deterministic = this.calibration?.deterministic === true;
    const pairs = deterministic ? 1 : this.config.sampling.maxRuns;
    this.log(`measuring the run's change: the original files against the final ones, ${pairs} interleaved pair${pairs === 1 ? '' : 's'}`);
    const result = await this.options.evaluator.measure(
      { base: Object.fromEntries(this.runStart), candidate: Object.fromEntries(this.runEnd), hiddenEnv: this.hiddenEnv, metric: this.metric, sampling: this.sampling(this.lastFloor, deterministic), pairs },
      this.request(),
    );
    return result.ok ? result.comparison : undefined;
  }

  private combineCoWinners(winner: Lesson, lessons: Lesson[]): Combination | undefined {
    const kept = (lesson: Lesson) => ({ lesson, candidate: this.candidates.get(lesson.id)! });
    const sign = gainSign(this.config.metric.direction);
    const others = lessons.filter((l) => l.outcome === 'kept' && l !== winner).sort((a, b) => sign * (b.metric!.change - a.metric!.change));
    return combine(kept(winner), others.map(kept));
  }

  /** The combination, when its files are still as the winner left them (the user may have edited one since). */
  private async takeCombination(): Promise<Proposal[]> {
    const combination = this.combination;
    this.combination = undefined;
    if (!combination) return [];
    for (const [rel, text] of Object.entries(combination.bases)) {
      if ((await this.readBase(rel)) !== text) {
        this.log(`co-winners not combined: ${rel} changed since they were measured`);
        return [];
      }
    }
    return [combination.proposal];
  }

  /** The winner becomes the baseline of the next cycle (in the sandbox only). */
  private keep(candidate: Candidate, winner: Lesson): void {
    for (const change of candidate.changes) {
      if (!this.runStart.has(change.path)) this.runStart.set(change.path, change.before);
      this.runEnd.set(change.path, change.after);
      if (!this.origins.has(change.path)) this.origins.set(change.path, change.before);
      this.overlay.set(change.path, change.after);
    }
    this.winners.push(winner.id);
  }

  /**
   * Writes the kept winners to the workspace, unless the user changed one of those files since the
   * run read it: then nothing is written and the winners stay a pending proposal.
   */
  async applyWinner(winner: Lesson): Promise<boolean> {
    const changes = [...this.origins].map(([rel, before]): FileChange => ({ path: rel, before, after: this.overlay.get(rel) ?? null }));
    const changed = await replaceIfUnchanged(this.options.workspace, changes);
    if (changed !== undefined) {
      this.log(`not applied: ${changed} changed in the workspace during the run; the winner stays a pending proposal`);
      return false;
    }
    await appendRecords(this.options.workspace, [{ v: 1, type: 'verdict', lesson: winner.id, verdict: 'accepted', time: new Date().toISOString() }]);
    this.overlay.clear();
    this.origins.clear();
    this.winners.length = 0;
    return true;
  }

  pendingProposal(): PendingProposal | undefined {
    if (this.winners.length === 0) return undefined;
    const changes = [...this.origins].map(([p, before]): FileChange => ({ path: p, before, after: this.overlay.get(p) ?? null }));
    return { changes, patch: unifiedDiff(changes), lessons: [...this.winners] };
  }

  /** The baseline's text of a file: a kept winner's, else this cycle's snapshot, else the disk's. */
  private async readBase(rel: string): Promise<string | null> {
    if (this.overlay.has(rel)) return this.overlay.get(rel)!;
    return this.snapshot.has(rel) ? this.snapshot.get(rel)! : readTextOrNull(path.join(this.options.workspace, rel));
  }

  private async takeSnapshot(): Promise<void> {
    const { workspace } = this.options;
    const files = await listTargetFiles(workspace, this.config.targets, this.config.protected);
    const snapshot = new Map<string, string | null>();
    for (const rel of new Set([...files, ...this.overlay.keys()])) {
      snapshot.set(rel, this.overlay.has(rel) ? this.overlay.get(rel)! : await readTextOrNull(path.join(workspace, rel)));
    }
    this.snapshot = snapshot;
  }

  /** A recorded text with the proposer's secrets masked (a candidate could print what it finds). */
  mask(text: string): string;
  mask(text: string | undefined): string | undefined;
  mask(text: string | undefined): string | undefined {
    if (text === undefined) return text;
    return this.secrets.reduce((t, secret) => t.split(secret).join('***'), text);
  }

  private limits() {
    return { timeoutMs: this.config.limits.timeoutMs, outputBytes: this.config.limits.outputBytes };
  }

  /** The baseline as this cycle measures it: the snapshot (absent files too: a kept winner may have deleted one the workspace still has). */
  private base(): Target {
    return { base: Object.fromEntries(this.snapshot), candidate: {}, hiddenEnv: this.hiddenEnv, epoch: `${this.runId}/${this.cycleNumber}` };
  }

  /** Tells this run's epochs from another's (a runner outlives a run in the editor). */
  private readonly runId = randomUUID();

  private request() {
    return { signal: this.options.signal, onProgress: (event: EvaluationProgress) => event.kind === 'log' && this.log(event.message, event) };
  }

  private emit(event: EngineEvent): void {
    this.options.onEvent?.(event);
  }

  private log(message: string, options: { debug?: boolean } = {}): void {
    this.emit({ kind: 'log', message, ...options });
  }
}

/** The proposer's note (e.g. an agent's edits that were dropped) closes the lesson's detail. */
function withNote(note: string | undefined, lesson: Lesson): Lesson {
  return note ? { ...lesson, detail: lesson.detail ? `${lesson.detail}\n${note}` : note } : lesson;
}

function bestKept(lessons: Lesson[], direction: RsiConfig['metric']['direction']): Lesson | undefined {
  const sign = gainSign(direction);
  return lessons
    .filter((l) => l.outcome === 'kept' && l.metric)
    .reduce<Lesson | undefined>((best, l) => (!best || sign * l.metric!.change > sign * best.metric!.change ? l : best), undefined);
}

function toLessonMetric(config: RsiConfig, measurement: NonNullable<EvaluationResult['measurement']>): LessonMetric {
  const { comparison, runs, phases, floor } = measurement;
  return {
    name: config.metric.name,
    direction: config.metric.direction,
    baseline: comparison.baseline,
    candidate: comparison.candidate,
    change: comparison.change,
    ci: comparison.ci,
    p: comparison.p,
    level: comparison.level,
    method: comparison.method,
    floor,
    phases,
    runs,
  };
}

function toLessonGuard({ name, direction, tolerance, passed, comparison, runs }: GuardResult): LessonGuard {
  const { baseline, candidate, change, ci, p, level, method } = comparison;
  return { name, direction, baseline, candidate, change, ci, p, level, method, runs, tolerance, passed };
}

function changedFiles(candidate: Candidate): Overlay {
  return Object.fromEntries(candidate.changes.map((c) => [c.path, c.after]));
}

/** Where a candidate stands in its cycle, and what it is measured against. */
interface Position {
  cycle: number;
  index: number;
  total: number;
  baseline: BaselineStats;
  noiseFloor: number;
}

type Checked =
  | { kind: 'decided'; lesson: Lesson }
  | { kind: 'candidate'; at: Position; hypothesis: string; candidate: Candidate; lesson: (outcome: Outcome, fields: Partial<Lesson>) => Lesson };
