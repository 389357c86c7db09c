import * as vscode from 'vscode';
import type { RunnerClient } from '../runner/client';
import type { Engine } from './engine';

/**
 * A runner per workspace folder: forked by the folder's first request, restarted by its client
 * after a crash within a budget, stopped with the window.
 */
export class RunnerRegistry {
  private readonly runners = new Map<string, RunnerClient>();
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly runnerPath: string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Process ids of the runners alive now: none before the first cycle. */
  get pids(): number[] {
    return [...this.runners.values()].flatMap((runner) => (runner.pid === undefined ? [] : [runner.pid]));
  }

  for(engine: Engine, folder: vscode.WorkspaceFolder): RunnerClient {
    const key = folder.uri.toString();
    let runner = this.runners.get(key);
    if (!runner) {
      runner = new engine.RunnerClient({ runnerPath: this.runnerPath, log: (line) => this.log.info(line) });
      this.runners.set(key, runner);
    }
    return runner;
  }

  /** Stops every runner, once: resolves when each has killed its commands and exited (or was killed). */
  dispose(): Promise<void> {
    this.stopped ??= Promise.all([...this.runners.values()].map((runner) => runner.dispose())).then(() => undefined);
    return this.stopped;
  }
}
