import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RunnerClient } from '../runner/client';
import type { CompareResult, MetricSpec, ProgressEvent } from '../runner/protocol';
import { measureNoise, readCalibration, writeCalibration, type Calibration } from './calibration';
import { combine, type Combination } from './combine';
import { loadConfig, metricSpec, minEffect, type ProposerKind, type RsiConfig } from './config';
import { contextPrompt, historyFromRunner } from './context';
import { metricValue, percent } from './format';
import { appendRecords, newLessonId, readLessons, type Lesson, type LessonLog, type LessonMetric, type Outcome } from './lessons';
import { unifiedDiff, validateProposal, type Candidate, type FileChange } from './patch';
import { createProposer, ProposerError, proposerForKind, type ProposerOptions } from './proposers';
import type { Proposal, Proposer } from './proposers/types';
import { errorKind, UserError, userMessage } from '../protocol/errors';
import { median, type SamplingPolicy } from './stats';
import { listTargetFiles, readTextOrNull, replaceIfUnchanged } from './workspace';

export interface EngineOptions {
  workspace: string;
  runner: RunnerClient;
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
  | { kind: 'candidate'; cycle: number; index: number; total: number; hypothesis: string; phase: 'gate' | 'measure' | 'confirm'; runs: { baseline: number; candidate: number } }
  | { kind: 'calibration'; pairs: number; total: number }
  | { kind: 'lesson'; cycle: number; lesson: Lesson }
  | { kind: 'cycle'; report: CycleReport }
  | { kind: 'log'; message: string };

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
export type LessonBrief = Pick<Lesson, 'id' | 'hypothesis' | 'outcome' | 'metric' | 'detail'>;

export interface CycleReport {
  cycle: number;
  baseline: BaselineStats;
  noiseFloor: number;
  lessons: LessonBrief[];
  /** The best kept candidate of this cycle: the next cycle's baseline. */
  winner?: Lesson;
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
  } catch (err) {
    // A proposer failing in a later cycle (an endpoint gone away) ends the run, not its summary.
    if (err instanceof ProposerError && summary.cycles.length > 0) summary.stopReason = err.message;
    else if (!isCancel(err, options.signal)) throw err;
  } finally {
    await options.runner.request('release', {}).catch(() => undefined);
  }
  summary.cancelled = options.signal?.aborted ?? false;
  summary.proposal = loop.pendingProposal();
  summary.durationMs = Math.round(performance.now() - started);
  return summary;
}

function brief({ id, hypothesis, outcome, metric, detail }: LessonBrief): LessonBrief {
  return { id, hypothesis, outcome, ...(metric && { metric }), ...(detail !== undefined && { detail: detail.split('\n')[0] }) };
}

function isCancel(err: unknown, signal?: AbortSignal): boolean {
  return (err as Error)?.name === 'CancelledError' || (signal?.aborted ?? false);
}

class Loop {
  /** Baseline content of files changed by kept winners, keyed by workspace-relative path. */
  private readonly overlay = new Map<string, string>();
  /** The workspace's content of those files when the run started (null: did not exist). */
  private readonly origins = new Map<string, string | null>();
  private readonly winners: string[] = [];
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
  private readonly proposer: Proposer;
  private readonly metric: MetricSpec;

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
    const keyEnv = typeof config.proposer === 'object' && 'apiKeyEnv' in config.proposer ? config.proposer.apiKeyEnv : undefined;
    this.hiddenEnv = keyEnv ? [keyEnv] : [];
    this.secrets = [options.proposerOptions?.apiKey, keyEnv && process.env[keyEnv]].filter((s): s is string => !!s && s.length >= 4);
  }

  /** Environment variables workspace commands never get: a candidate could print them into a lesson. */
  private readonly hiddenEnv: string[];

  async cycle(): Promise<CycleReport> {
    const { workspace, runner } = this.options;
    const lessonLog = await readLessons(workspace);
    const cycle = lessonLog.lessons.reduce((max, l) => Math.max(max, l.cycle), 0) + 1;
    const stage = (s: Stage, message: string) => this.emit({ kind: 'stage', cycle, stage: s, message });

    stage('prepare', 'preparing the sandboxes');
    await runner.recycleIfGrown();
    await this.takeSnapshot();
    const overlay = Object.fromEntries([...this.snapshot].filter((entry): entry is [string, string] => entry[1] !== null));
    const prepared = await runner.request('prepare', { workspace, storageRoot: this.options.storageRoot, overlay, hiddenEnv: this.hiddenEnv }, this.request());
    this.log(`sandboxes ready in ${prepared.ms} ms (${prepared.copied} files copied, ${prepared.deleted} removed)`);
    await runner.request('setCandidate', { files: {} }, this.request());

    if (!this.gatePassed) {
      stage('baseline', 'running the gate on the unmodified workspace');
      const gate = await runner.request('gate', { side: 'baseline', commands: this.config.gate, ...this.limits() }, this.request());
      if (!gate.ok) {
        throw new EngineStop(this.mask(`the gate fails on the unmodified workspace: \`${gate.command}\` ${gate.reason}; fix it before running a cycle\n${gate.output}`));
      }
      this.gatePassed = true;
    }
    const baseline = await this.measureBaseline(cycle);
    const noiseFloor = await this.noiseFloor(cycle, baseline);

    stage('propose', `asking the ${this.proposer.name} proposer for ${this.config.candidates} candidates`);
    const proposals = [...(await this.takeCombination()), ...(await this.propose(cycle, lessonLog, baseline, noiseFloor))];
    const lessons: Lesson[] = [];
    const tried = new Set(lessonLog.lessons.map((l) => l.patchHash));
    for (const [index, proposal] of proposals.entries()) {
      if (this.options.signal?.aborted) break;
      const lesson = await this.evaluate(proposal, { cycle, index, total: proposals.length, baseline, noiseFloor, tried });
      lessons.push(lesson);
      tried.add(lesson.patchHash);
      await appendRecords(workspace, [lesson]);
      this.emit({ kind: 'lesson', cycle, lesson });
    }

    const report: CycleReport = { cycle, baseline, noiseFloor, lessons };
    report.winner = bestKept(lessons, this.config.metric.direction);
    if (report.winner) this.keep(this.candidates.get(report.winner.id)!, report.winner);
    this.combination = report.winner && this.combineCoWinners(report.winner, lessons);
    this.candidates.clear();
    return report;
  }

  private async measureBaseline(cycle: number): Promise<BaselineStats> {
    // A kept winner's runs are not reused as the new baseline: a fresh sample keeps cycles independent.
    this.emit({ kind: 'stage', cycle, stage: 'baseline', message: 'measuring the baseline' });
    const deterministicPossible = this.config.metric.read !== 'wallTime';
    const sample = await this.options.runner.request(
      'sample',
      { metric: this.metric, side: 'baseline', runs: this.config.sampling.minRuns, stopWhenConstant: deterministicPossible },
      this.request(),
    );
    const deterministic = deterministicPossible && sample.values.length >= 2 && sample.values.every((v) => v === sample.values[0]);
    const baseline = { median: median(sample.values), n: sample.values.length, values: sample.values, deterministic, peakRssBytes: sample.peakRssBytes };
    this.log(`baseline ${this.config.metric.name} = ${metricValue(baseline.median)} (n=${baseline.n}${deterministic ? ', deterministic' : ''})`);
    return baseline;
  }

  private async noiseFloor(cycle: number, baseline: BaselineStats): Promise<number> {
    if (this.config.noise.floor !== null) return this.config.noise.floor;
    if (baseline.deterministic) return 0;
    this.calibration ??= await readCalibration(this.options.workspace, this.config.metric.command);
    if (!this.calibration) {
      this.emit({ kind: 'stage', cycle, stage: 'calibrate', message: 'calibrating the noise floor (A/A runs), once per workspace and machine' });
      this.calibration = await measureNoise(this.options, this.config, this.metric);
      await writeCalibration(this.options.workspace, this.calibration);
    }
    return this.calibration.floor;
  }

  private async propose(cycle: number, lessonLog: LessonLog, baseline: BaselineStats, noiseFloor: number): Promise<Proposal[]> {
    const { workspace, runner, storageRoot, signal } = this.options;
    const targetFiles = await listTargetFiles(workspace, this.config.targets, this.config.protected);
    for (const file of this.overlay.keys()) if (!targetFiles.includes(file)) targetFiles.push(file);
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
        log: (message) => this.log(message),
      });
    return this.proposer.propose({
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

  private async evaluate(
    proposal: Proposal,
    at: { cycle: number; index: number; total: number; baseline: BaselineStats; noiseFloor: number; tried: Set<string> },
  ): Promise<Lesson> {
    const started = performance.now();
    const id = newLessonId();
    const lesson = (outcome: Outcome, fields: Partial<Lesson>): Lesson => ({
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
      return lesson('invalid', { files: validation.files, patch: validation.patch, detail: validation.reason + raw });
    }
    const candidate = validation.candidate;
    this.candidates.set(id, candidate);
    const recorded = { files: candidate.changes.map((c) => c.path), patch: candidate.patch, patchHash: candidate.patchHash };
    if (at.tried.has(candidate.patchHash)) return lesson('duplicate', { ...recorded, detail: 'the same change was tried before' });

    const progress = (phase: 'gate' | 'measure' | 'confirm', runs = { baseline: 0, candidate: 0 }) =>
      this.emit({ kind: 'candidate', cycle: at.cycle, index: at.index, total: at.total, hypothesis: proposal.hypothesis, phase, runs });
    const { runner } = this.options;
    progress('gate');
    try {
      await runner.request('setCandidate', { files: Object.fromEntries(candidate.changes.map((c) => [c.path, c.after])) }, this.request());
    } catch (err) {
      // The sandbox refused a path the validation let through: this candidate is invalid, the run goes on.
      if (errorKind(err) !== 'user') throw err;
      return lesson('invalid', { ...recorded, detail: userMessage(err) });
    }
    const gate = await runner.request('gate', { side: 'candidate', commands: this.config.gate, ...this.limits() }, this.request());
    if (!gate.ok) return lesson('gate-failed', { ...recorded, detail: `\`${gate.command}\` ${gate.reason}\n${gate.output}` });

    // Below the noise floor a change cannot be told from noise; below the minimum effect it is not worth keeping.
    const effect = minEffect(this.config, at.baseline.deterministic);
    const threshold = Math.max(at.noiseFloor, effect);
    const policy: SamplingPolicy = {
      minRuns: this.config.sampling.minRuns,
      maxRuns: this.config.sampling.maxRuns,
      alpha: this.config.sampling.alpha,
      noiseFloor: threshold,
      direction: this.config.metric.direction,
      deterministic: at.baseline.deterministic,
    };
    const compareOnce = async (phase: 'measure' | 'confirm'): Promise<CompareResult> => {
      const runs = { baseline: 0, candidate: 0 };
      progress(phase, runs);
      return runner.request(
        'compare',
        {
          metric: this.metric,
          policy,
          memoryLimitBytes: at.baseline.peakRssBytes > 0 ? Math.round(at.baseline.peakRssBytes * (1 + this.config.limits.memoryGrowth)) : undefined,
          constantBaseline: at.baseline.deterministic ? at.baseline.median : undefined,
        },
        this.request((event) => {
          if (event.kind !== 'run') return;
          runs[event.side] = event.index + 1;
          progress(phase, runs);
        }),
      );
    };
    const first = await compareOnce('measure');
    if (!first.ok) return lesson(first.outcome, { ...recorded, detail: first.detail });
    const metricOf = (r: Extract<CompareResult, { ok: true }>) => toLessonMetric(this.config, r);
    if (first.verdict === 'worse') return lesson('regressed', { ...recorded, metric: metricOf(first) });
    if (first.verdict === 'same') return lesson('no-effect', { ...recorded, metric: metricOf(first), detail: `no change beyond the ${effect > at.noiseFloor ? 'minimum effect' : 'noise floor'} (${percent(threshold)})` });
    // An apparent winner must win again on fresh runs: one lucky streak is not an improvement.
    if (!this.config.sampling.confirm || at.baseline.deterministic) return lesson('kept', { ...recorded, metric: metricOf(first) });
    const second = await compareOnce('confirm');
    if (!second.ok) return lesson(second.outcome, { ...recorded, detail: `on the re-test: ${second.detail}` });
    if (second.verdict !== 'better') {
      return lesson('no-effect', { ...recorded, metric: metricOf(second), detail: `looked better (${percent(first.comparison.change)}) but did not hold on the re-test` });
    }
    return lesson('kept', { ...recorded, metric: metricOf(second), detail: `confirmed on a re-test (first ${percent(first.comparison.change)})` });
  }

  private combineCoWinners(winner: Lesson, lessons: Lesson[]): Combination | undefined {
    const kept = (lesson: Lesson) => ({ lesson, candidate: this.candidates.get(lesson.id)! });
    const sign = this.config.metric.direction === 'maximize' ? 1 : -1;
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
      if (!this.origins.has(change.path)) this.origins.set(change.path, change.before);
      if (change.after === null) this.overlay.delete(change.path);
      else this.overlay.set(change.path, change.after);
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
    const kept = this.overlay.get(rel);
    if (kept !== undefined) return kept;
    return this.snapshot.has(rel) ? this.snapshot.get(rel)! : readTextOrNull(path.join(this.options.workspace, rel));
  }

  private async takeSnapshot(): Promise<void> {
    const { workspace } = this.options;
    const files = await listTargetFiles(workspace, this.config.targets, this.config.protected);
    const snapshot = new Map<string, string | null>();
    for (const rel of new Set([...files, ...this.overlay.keys()])) {
      snapshot.set(rel, this.overlay.get(rel) ?? (await readTextOrNull(path.join(workspace, rel))));
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

  private request(onEvent?: (event: ProgressEvent) => void) {
    return { signal: this.options.signal, onEvent: onEvent ?? ((event: ProgressEvent) => event.kind === 'log' && this.log(event.message)) };
  }

  private emit(event: EngineEvent): void {
    this.options.onEvent?.(event);
  }

  private log(message: string): void {
    this.emit({ kind: 'log', message });
  }
}

function bestKept(lessons: Lesson[], direction: RsiConfig['metric']['direction']): Lesson | undefined {
  const sign = direction === 'maximize' ? 1 : -1;
  return lessons
    .filter((l) => l.outcome === 'kept' && l.metric)
    .reduce<Lesson | undefined>((best, l) => (!best || sign * l.metric!.change > sign * best.metric!.change ? l : best), undefined);
}

function toLessonMetric(config: RsiConfig, result: Extract<CompareResult, { ok: true }>): LessonMetric {
  const { comparison } = result;
  return {
    name: config.metric.name,
    direction: config.metric.direction,
    baseline: comparison.baseline,
    candidate: comparison.candidate,
    change: comparison.change,
    ci: comparison.ci,
    p: comparison.p,
  };
}
