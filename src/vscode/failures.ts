import * as vscode from 'vscode';
import { errorKind, userMessage } from '../protocol/errors';
import { configUri, openConfig } from './configFile';
import { loadEngine } from './engine';
import type { RsiStatusBar } from './statusBar';

/** The last run's failure, until the user changes a file of its folder (config errors: until the config is valid). */
interface Failure {
  folder: vscode.WorkspaceFolder;
  message: string;
  configError: boolean;
}

/**
 * How a run's failure reaches the user: a user's error as a sentence with the way to fix it, a
 * program's error logged whole; the status bar keeps it until the user acts on it.
 */
export class FailureReporter {
  private failure: Failure | undefined;

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly statusBar: RsiStatusBar,
  ) {}

  /** A new run starts: the last failure is history. */
  clear(): void {
    this.failure = undefined;
  }

  /** Shows the failure of `action`; returns what the user was told. */
  report(action: string, folder: vscode.WorkspaceFolder, err: unknown): string {
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
  async recheck(saved: vscode.Uri): Promise<void> {
    const failure = this.failure;
    if (!failure || vscode.workspace.getWorkspaceFolder(saved) !== failure.folder) return;
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
}
