import * as vscode from 'vscode';
import type { RunSummary } from './core/cycle';
import { registerCommands } from './vscode/commands';
import { CycleController, type RunRefusal } from './vscode/controller';
import { LessonDiffs } from './vscode/lessonDiff';
import { LessonsFile } from './vscode/lessonsFile';
import { LessonsTree } from './vscode/lessonsTree';
import { registerLmTools } from './vscode/lmTools';
import { ReportPanel } from './vscode/report';
import { RsiStatusBar } from './vscode/statusBar';

/** What activate() returns: the extension's parts, for tests and other extensions. */
export interface RsiApi {
  /** Resolves to the cycle's summary, or to a refusal whose `error` says why it could not run. */
  runCycle(folder?: vscode.Uri): Promise<RunSummary | RunRefusal>;
  controller: CycleController;
  statusBar: RsiStatusBar;
  lessonsTree: LessonsTree;
  report: ReportPanel;
  /** How long activate() took, in milliseconds. */
  activateMs: number;
}

/**
 * Wires the parts together, nothing more: no runner, no git, no sandbox, no file read. The engine
 * (dist/engine.js) loads with the first cycle.
 */
export function activate(context: vscode.ExtensionContext): RsiApi {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('RSI', { log: true });
  const lessons = new LessonsFile();
  const statusBar = new RsiStatusBar();
  const controller = new CycleController(context, log, statusBar, lessons);
  const lessonsTree = new LessonsTree(lessons, controller);
  const lessonDiffs = new LessonDiffs();
  const report = new ReportPanel(lessons);
  context.subscriptions.push(
    log, lessons, statusBar, controller, lessonsTree, lessonDiffs, report,
    ...registerCommands({ controller, lessons, lessonDiffs, report, secrets: context.secrets }),
    ...registerLmTools(controller, lessons),
  );
  shutdown = () => controller.shutdown();
  return { runCycle: (folder) => controller.runCycle(folder), controller, statusBar, lessonsTree, report, activateMs: performance.now() - started };
}

let shutdown: (() => Promise<void>) | undefined;

/** VS Code waits for this: the runners kill what they run and exit before the window's process does. */
export function deactivate(): Promise<void> | undefined {
  return shutdown?.();
}
