import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { LessonRecord } from '../../../src/core/lessons';
import type { RsiApi } from '../../../src/extension';
import type { RunRefusal } from '../../../src/vscode/controller';

export async function rsiApi(): Promise<RsiApi> {
  const extension = vscode.extensions.getExtension<RsiApi>('rsi-loop.rsi-loop');
  assert.ok(extension, 'extension rsi-loop.rsi-loop not found');
  return extension.activate();
}

/** The copy of examples/backtest the host opened. */
export function workspaceFolder(): vscode.WorkspaceFolder {
  const [folder] = vscode.workspace.workspaceFolders ?? [];
  assert.ok(folder, 'no workspace folder open');
  return folder;
}

export function workspaceFile(...segments: string[]): vscode.Uri {
  return vscode.Uri.joinPath(workspaceFolder().uri, ...segments);
}

export async function lessonRecords(): Promise<LessonRecord[]> {
  try {
    const bytes = await vscode.workspace.fs.readFile(workspaceFile('.rsi', 'lessons.jsonl'));
    return new TextDecoder().decode(bytes).split('\n').filter(Boolean).map((line) => JSON.parse(line) as LessonRecord);
  } catch {
    return [];
  }
}

/** Live children of this process (the extension host) that run the runner bundle. */
export function runnerChildren(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== process.pid || state === 'Z') continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('dist/runner.js')) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What a command of ours resolved to, when it ran: fails with the refusal's sentence otherwise. */
export function ran<T extends object>(result: T | RunRefusal | undefined): T {
  assert.ok(result, 'the command resolved to nothing');
  assert.ok(!('error' in result && typeof result.error === 'string'), `the command did not run: ${(result as RunRefusal).error}`);
  return result as T;
}

/** Why a command of ours did not run: fails when it ran. */
export function refusal(result: object | undefined): string {
  assert.ok(result && 'error' in result && typeof result.error === 'string', `expected { error }, got ${JSON.stringify(result)?.slice(0, 200)}`);
  return result.error as string;
}
