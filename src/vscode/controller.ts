import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Calibration } from '../core/calibration';
import type { ProposerKind } from '../core/config';
import type { EngineEvent, EngineOptions, PendingProposal, RunSummary } from '../core/cycle';
import { appendRecords, type Verdict } from '../core/lessons';
import type { RunnerClient } from '../runner/client';
import { configExists, configUri, offerConfig, openConfig } from './configFile';
import { loadEngine, type Engine } from './engine';
import { describeCalibration, describeOutcome, percent } from '../core/format';
import { ProposalSession, type HunkVerdict } from './inlineDiff/session';
import type { LessonsFile } from './lessonsFile';
import { Disposable, toDisposable } from './lifecycle';
import { RunProgress } from './runProgress';
import type { RsiStatusBar } from './statusBar';
import { untrustedRefusal } from './trust';
import { errorKind, userMessage } from '../protocol/errors';
import { pickFolder } from './workspaceFolder';

/** Where `RSI: Set API Key` keeps the key of the OpenAI-compatible proposer. */
export const API_KEY_SECRET = 'rsi.openai.apiKey';

/**
 * What a command resolves to when it cannot run (untrusted, no folder, no config, a run in
 * progress, a broken config, a failure): the sentence the user was shown. A public contract:
 * `await executeCommand('rsi.runCycle')` gives the summary or this.
 */
export interface RunRefusal {
  error: string;
}

export function isRefusal(result: object): result is RunRefusal {
  return typeof (result as Partial<RunRefusal>).error === 'string';
}

/** The last run's failure, until the user changes a file of its folder (config errors: until the config is valid). */
interface Failure {
  folder: vscode.WorkspaceFolder;
  message: string;
  configError: boolean;
}

type Work<T> = (engine: Engine, options: EngineOptions, folder: vscode.WorkspaceFolder) => Promise<T>;

/** A run in flight: what stops it, and why it stopped. */
interface ActiveRun {
  abort: AbortController;
  stopReason?: string;
}

/**
 * Runs the engine for the commands: one run at a time, a runner per workspace folder (started by
 * the first cycle, stopped on dispose), progress in a cancellable notification and the status bar,
 * the engine's log in the "RSI" channel, the winners as an inline proposal.
 */
export class CycleController extends Disposable {
  private readonly runners = new Map<string, RunnerClient>();
  private active: ActiveRun | undefined;
  private session: ProposalSession | undefined;
  private failure: Failure | undefined;
  private readonly proposalChanged = this._register(new vscode.EventEmitter<void>());
  /** Fires when a proposal is shown, a hunk of it decided, or it ends. */
  readonly onDidChangeProposal = this.proposalChanged.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly statusBar: RsiStatusBar,
    private readonly lessons: LessonsFile,
  ) {
    super();
    this._register(toDisposable(() => this.shutdown()));
    this._register(vscode.workspace.onDidSaveTextDocument((document) => void this.recheckFailure(document.uri)));
  }

  get running(): boolean {
    return this.active !== undefined;
  }

  /** The pending proposal shown in the editors, if any. */
  get proposal(): ProposalSession | undefined {
    return this.session;
  }

  /** The lessons of the pending proposal still waiting for the user's decision. */
  get pendingLessons(): ReadonlySet<string> {
    return this.session?.undecidedLessons ?? new Set();
  }

  /** Process ids of the runners alive now: none before the first cycle. */
  get runnerPids(): number[] {
    return [...this.runners.values()].flatMap((runner) => (runner.pid === undefined ? [] : [runner.pid]));
  }

  /** One cycle. Resolves to its summary, or to a refusal saying why it could not run (the user was told too). */
  runCycle(resource?: vscode.Uri): Promise<RunSummary | RunRefusal> {
    return this.run('Run Cycle', resource, async (engine, options, folder) => this.present(folder, await engine.runCycles(options, 1)));
  }

  /** Cycles until RSI: Stop or the budget of cycles or minutes ends; the accumulated change is one proposal. */
  runContinuously(resource?: vscode.Uri): Promise<RunSummary | RunRefusal> {
    return this.run('Run Continuously', resource, async (engine, options, folder) => {
      const budget = vscode.workspace.getConfiguration('rsi.continuous', folder);
      const maxMinutes = budget.get<number>('maxMinutes', 30);
      const timer = setTimeout(() => this.stop(`stopped at the budget of ${maxMinutes} minutes`), maxMinutes * 60_000);
      try {
        return this.present(folder, await engine.runCycles(options, budget.get<number>('maxCycles', 10)));
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /** A/A runs that measure the noise floor afresh, cached in .rsi/calibration.json. */
  calibrate(resource?: vscode.Uri): Promise<Calibration | RunRefusal> {
    return this.run('Calibrate Noise Floor', resource, async (engine, options) => {
      const { previous, ...calibration } = await engine.calibrate(options);
      const floor = calibration.deterministic ? 'deterministic metric: any change is real' : `noise floor ±${percent(calibration.floor).slice(1)}`;
      this.statusBar.show(`$(beaker) RSI: ${floor}`, `RSI Loop: ${describeCalibration(calibration, previous)}; saved to .rsi/calibration.json.`);
      return calibration;
    });
  }

  /** Kills the run's current commands; what was decided before stays in the lessons. */
  stop(reason = 'stopped by you'): void {
    if (!this.active || this.active.abort.signal.aborted) return;
    this.active.stopReason = reason;
    this.active.abort.abort();
  }

  private async run<T>(action: string, resource: vscode.Uri | undefined, work: Work<T>): Promise<T | RunRefusal> {
    const untrusted = untrustedRefusal(vscode.workspace, action);
    if (untrusted) return this.refuse(untrusted);
    const folder = await pickFolder(resource);
    if (!folder) return { error: `RSI: ${action} needs a local workspace folder: open one (or pick one when asked).` };
    if (!(await configExists(folder))) {
      // Not awaited: a caller of the command learns why at once, the user answers the offer when they like.
      void offerConfig(folder);
      return { error: `RSI: ${folder.name} has no .rsi/config.json, which says what to measure and which files to improve: RSI: Open Configuration creates one.` };
    }
    if (this.active) return this.refuse(`RSI: ${action} refused: a run is already in progress (RSI: Stop ends it).`);
    this.failure = undefined;
    const active: ActiveRun = { abort: new AbortController() };
    this.active = active;
    void vscode.commands.executeCommand('setContext', 'rsi.running', true);
    const progress = new RunProgress();
    this.statusBar.showProgress(progress);
    try {
      const engine = loadEngine();
      const title = `RSI: ${action}`;
      return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (notification, token) => {
        const cancel = token.onCancellationRequested(() => this.stop());
        const onEvent = (event: EngineEvent) => {
          progress.update(event);
          this.statusBar.showProgress(progress);
          notification.report({ message: progress.message });
          this.logEvent(folder, event);
        };
        try {
          return await work(engine, await this.engineOptions(engine, folder, active.abort.signal, onEvent), folder);
        } finally {
          cancel.dispose();
        }
      });
    } catch (err) {
      return { error: this.fail(action, folder, err) };
    } finally {
      this.active = undefined;
      void vscode.commands.executeCommand('setContext', 'rsi.running', false);
      this.lessons.invalidate(folder);
    }
  }

  private async engineOptions(engine: Engine, folder: vscode.WorkspaceFolder, signal: AbortSignal, onEvent: (event: EngineEvent) => void): Promise<EngineOptions> {
    const settings = vscode.workspace.getConfiguration('rsi', folder);
    const proposer = settings.get<string>('proposer', '');
    // The extension's storage rather than the system temp folder: it outlives reboots, so the
    // sandboxes are built once and then only synced.
    const storage = this.context.storageUri ?? this.context.globalStorageUri;
    const storageRoot = settings.get<string>('sandboxRoot', '') || vscode.Uri.joinPath(storage, 'sandboxes').fsPath;
    const runner = this.runnerFor(engine, folder);
    return {
      workspace: folder.uri.fsPath,
      runner,
      evaluator: new engine.LocalEvaluator(runner, { workspace: folder.uri.fsPath, storageRoot }),
      storageRoot,
      proposer: proposer ? (proposer as ProposerKind) : undefined,
      proposerOptions: {
        lm: engine.createLmProposer,
        apiKey: await this.context.secrets.get(API_KEY_SECRET),
        workingCopy: new engine.AgentWorkingCopy(storageRoot, folder.uri.fsPath),
      },
      autoAccept: settings.get<boolean>('autoApply', false),
      signal,
      onEvent,
    };
  }

  private runnerFor(engine: Engine, folder: vscode.WorkspaceFolder): RunnerClient {
    const key = folder.uri.toString();
    let runner = this.runners.get(key);
    if (!runner) {
      // The client forks the runner on its first request, and restarts it after a crash within its budget.
      runner = new engine.RunnerClient({ runnerPath: path.join(this.context.extensionPath, 'dist', 'runner.js'), log: (line) => this.log.info(line) });
      this.runners.set(key, runner);
    }
    return runner;
  }

  private async present(folder: vscode.WorkspaceFolder, summary: RunSummary): Promise<RunSummary> {
    this.statusBar.showResult(summary, this.active?.stopReason);
    if (summary.proposal) await this.showProposal(folder, summary.proposal, summary);
    else if (summary.applied.length > 0) void vscode.window.showInformationMessage(`RSI: applied to your files: ${summary.applied.map((l) => l.hypothesis).join('; ')}`);
    return summary;
  }

  /** The winners' accumulated change as an inline diff; each lesson's verdict becomes a record. */
  private async showProposal(folder: vscode.WorkspaceFolder, proposal: PendingProposal, summary: RunSummary): Promise<void> {
    // A new proposal replaces one still pending: both apply to the files as they are on disk.
    this.session?.dispose();
    this.session = undefined;
    this.proposalChanged.fire();
    const winners = new Set(proposal.lessons);
    try {
      const session = await ProposalSession.show({
        workspaceFolder: folder.uri,
        proposal,
        lessons: summary.cycles.flatMap((c) => c.winner ?? []).filter((l) => winners.has(l.id)),
        onVerdict: (verdicts) => this.recordVerdicts(folder, verdicts),
        log: (line) => this.log.info(line),
      });
      this.session = session;
      this.proposalChanged.fire();
      // The session ends itself once every hunk is decided (its emitter, and this listener, go with it).
      session.onDidChange(() => {
        if (this.session !== session) return;
        if (session.pending === 0) this.session = undefined;
        this.proposalChanged.fire();
      });
    } catch (err) {
      this.log.error('could not show the proposal; its patch:\n' + proposal.patch, err);
      void vscode.window.showErrorMessage(`RSI: could not show the proposal (${(err as Error).message}); its patch is in the RSI log.`);
    }
  }

  private async recordVerdicts(folder: vscode.WorkspaceFolder, verdicts: HunkVerdict[]): Promise<void> {
    const time = new Date().toISOString();
    await appendRecords(folder.uri.fsPath, verdicts.map((v): Verdict => ({ v: 1, type: 'verdict', lesson: v.lessonId, verdict: v.verdict, time })));
    this.lessons.invalidate(folder);
  }

  private logEvent(folder: vscode.WorkspaceFolder, event: EngineEvent): void {
    switch (event.kind) {
      case 'stage':
        this.log.info(`[${folder.name}, cycle ${event.cycle}] ${event.message}`);
        break;
      case 'candidate':
        if (event.phase === 'gate') this.log.info(`[${folder.name}, cycle ${event.cycle}] candidate ${event.index + 1}/${event.total}: ${event.hypothesis}`);
        break;
      case 'lesson':
        this.log.info(`[${folder.name}, cycle ${event.cycle}]   -> ${describeOutcome(event.lesson)}`);
        this.lessons.invalidate(folder);
        break;
      case 'log':
        this.log.info(`  ${event.message}`);
        break;
    }
  }

  private refuse(message: string): RunRefusal {
    void vscode.window.showWarningMessage(message);
    return { error: message };
  }

  /**
   * A user's error becomes a message with the way to fix it; a program's error is logged whole.
   * Returns what the user was told.
   */
  private fail(action: string, folder: vscode.WorkspaceFolder, err: unknown): string {
    const error = err instanceof Error ? err : new Error(String(err));
    const kind = errorKind(error);
    if (kind === 'cancelled') {
      this.statusBar.show('$(debug-stop) RSI: stopped', `RSI Loop: ${action} was stopped.`);
      return `RSI: ${action} was stopped.`;
    }
    const actions = ['Show Log'];
    let message: string;
    if (kind === 'user') {
      // EngineStop carries the gate's output after its first line: the message shows the line, the log all.
      const text = userMessage(error);
      message = `RSI: ${text.split('\n')[0]}`;
      this.log.warn(`${action} in ${folder.uri.fsPath}: ${text}`);
      actions.unshift('Open Configuration');
    } else {
      message = `RSI: ${action} failed: ${error.message}`;
      this.log.error(`${action} in ${folder.uri.fsPath} failed:`, error);
    }
    this.failure = { folder, message, configError: error.name === 'ConfigError' };
    this.statusBar.showError(message);
    void vscode.window.showErrorMessage(message, ...actions).then((choice) => {
      if (choice === 'Show Log') this.log.show();
      else if (choice === 'Open Configuration') void openConfig(folder);
    });
    return message;
  }

  /**
   * The status bar keeps a failure only until the user acts on it: a broken config until it is
   * valid again (checked on save), any other failure until a file of its folder is saved.
   */
  private async recheckFailure(saved: vscode.Uri): Promise<void> {
    const failure = this.failure;
    if (!failure || this.active || vscode.workspace.getWorkspaceFolder(saved) !== failure.folder) return;
    if (failure.configError) {
      if (saved.toString() !== configUri(failure.folder).toString()) return;
      try {
        await loadEngine().loadConfig(failure.folder.uri.fsPath);
      } catch (err) {
        if (this.failure !== failure) return;
        failure.message = `RSI: ${(err as Error).message.split('\n')[0]}`;
        this.statusBar.showError(failure.message);
        return;
      }
    }
    if (this.failure !== failure) return;
    this.failure = undefined;
    const why = failure.configError ? '.rsi/config.json is valid now' : `files changed since the last run failed (${failure.message})`;
    this.statusBar.show('$(beaker) RSI', `RSI Loop: ${why}. Run a cycle to try again.`);
  }

  private shutdown(): void {
    this.stop('stopped: the window is closing');
    this.session?.dispose();
    // dispose() signals the runner at once; the runner also exits by itself when its parent goes.
    for (const runner of this.runners.values()) void runner.dispose();
    this.runners.clear();
  }
}
