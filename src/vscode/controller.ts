import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Calibration } from '../core/calibration';
import type { EngineEvent, EngineOptions, RunSummary } from '../core/cycle';
import { describeCalibration, describeOutcome, percent } from '../core/format';
import { configExists, offerConfig } from './configFile';
import { loadEngine, type Engine } from './engine';
import { engineOptions } from './engineOptions';
import { FailureReporter } from './failures';
import type { ProposalSession } from './inlineDiff/session';
import type { LessonsFile } from './lessonsFile';
import { Disposable, toDisposable } from './lifecycle';
import { ProposalView } from './proposalView';
import { RunnerRegistry } from './runners';
import { RunProgress } from './runProgress';
import type { RsiStatusBar } from './statusBar';
import { untrustedRefusal } from './trust';
import { pickFolder } from './workspaceFolder';

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

type Work<T> = (engine: Engine, options: EngineOptions, folder: vscode.WorkspaceFolder) => Promise<T>;

/** A run in flight: what stops it, and why it stopped. */
interface ActiveRun {
  abort: AbortController;
  stopReason?: string;
}

/**
 * Runs the engine for the commands: one run at a time, progress in a cancellable notification and
 * the status bar, the engine's log in the "RSI" channel, the winners as an inline proposal.
 */
export class CycleController extends Disposable {
  private active: ActiveRun | undefined;
  private readonly runners: RunnerRegistry;
  private readonly failures: FailureReporter;
  private readonly proposals: ProposalView;
  /** Fires when a proposal is shown, a hunk of it decided, or it ends. */
  readonly onDidChangeProposal: vscode.Event<void>;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly statusBar: RsiStatusBar,
    private readonly lessons: LessonsFile,
  ) {
    super();
    this.runners = new RunnerRegistry(path.join(context.extensionPath, 'dist', 'runner.js'), log);
    this.failures = new FailureReporter(log, statusBar);
    this.proposals = this._register(new ProposalView(log, lessons));
    this.onDidChangeProposal = this.proposals.onDidChange;
    this._register(vscode.workspace.onDidSaveTextDocument((document) => !this.active && void this.failures.recheck(document.uri)));
    // The window closing disposes the controller: the run stops, and each runner is signalled at
    // once (it also exits by itself when its parent goes); deactivate() awaits their exit.
    this._register(toDisposable(() => void this.shutdown()));
  }

  get running(): boolean {
    return this.active !== undefined;
  }

  /** The pending proposal shown in the editors, if any. */
  get proposal(): ProposalSession | undefined {
    return this.proposals.session;
  }

  /** The lessons of the pending proposal still waiting for the user's decision. */
  get pendingLessons(): ReadonlySet<string> {
    return this.proposals.undecidedLessons;
  }

  /** Process ids of the runners alive now: none before the first cycle. */
  get runnerPids(): number[] {
    return this.runners.pids;
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
    this.failures.clear();
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
          return await work(engine, await engineOptions(engine, folder, { context: this.context, runners: this.runners, signal: active.abort.signal, onEvent }), folder);
        } finally {
          cancel.dispose();
        }
      });
    } catch (err) {
      return { error: this.failures.report(action, folder, err) };
    } finally {
      this.active = undefined;
      void vscode.commands.executeCommand('setContext', 'rsi.running', false);
      this.lessons.invalidate(folder);
    }
  }

  private async present(folder: vscode.WorkspaceFolder, summary: RunSummary): Promise<RunSummary> {
    this.statusBar.showResult(summary, this.active?.stopReason);
    if (summary.proposal) await this.proposals.show(folder, summary.proposal, summary);
    else if (summary.applied.length > 0) void vscode.window.showInformationMessage(`RSI: applied to your files: ${summary.applied.map((l) => l.hypothesis).join('; ')}`);
    return summary;
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

  /** Stops the run and every runner; resolves once the runners have killed their commands and exited. */
  shutdown(): Promise<void> {
    this.stop('stopped: the window is closing');
    return this.runners.dispose();
  }
}
