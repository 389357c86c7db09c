import * as vscode from 'vscode';
import type { RunnerClient } from '../runner/client';
import type { Engine } from './engine';

/**
 * Each workspace folder's runners, one a pool slot (slot 0's also reads the folder's history and
 * profile): a client forks its runner on its first request (a slot no run needs never starts),
 * restarts it after a crash within a budget, and stops it with the window.
 */
export class RunnerRegistry {
  private readonly runners = new Map<string, RunnerClient[]>();
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly runnerPath: string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Process ids of the runners alive now: none before the first cycle. */
  get pids(): number[] {
    return [...this.runners.values()].flat().flatMap((runner) => (runner.pid === undefined ? [] : [runner.pid]));
  }

  for(engine: Engine, folder: vscode.WorkspaceFolder, slots: number): RunnerClient[] {
    const key = folder.uri.toString();
    const runners = this.runners.get(key) ?? [];
    while (runners.length < slots) runners.push(new engine.RunnerClient({ runnerPath: this.runnerPath, log: (line) => this.log.info(line) }));
    // The config asks for fewer slots than before: the runners beyond them stop.
    for (const extra of runners.splice(slots)) void extra.dispose();
    this.runners.set(key, runners);
    return runners;
  }

  /** Stops every runner, once: resolves when each has killed its commands and exited (or was killed). */
  dispose(): Promise<void> {
    this.stopped ??= Promise.all([...this.runners.values()].flat().map((runner) => runner.dispose())).then(() => undefined);
    return this.stopped;
  }
}
