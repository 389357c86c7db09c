import * as vscode from 'vscode';
import { describeOutcome } from '../core/format';
import { isRefusal, type CycleController } from './controller';
import type { LessonsFile } from './lessonsFile';
import { pickFolder } from './workspaceFolder';

/** The tools a chat agent in VS Code can call: start a cycle, read the lessons (`languageModelTools` in package.json). */
export function registerLmTools(controller: CycleController, lessons: LessonsFile): vscode.Disposable[] {
  return [
    vscode.lm.registerTool<Record<string, never>>('rsi_runCycle', {
      // A cycle runs the workspace's own commands: the user confirms each time.
      prepareInvocation: () => ({
        invocationMessage: 'Running an RSI cycle',
        confirmationMessages: {
          title: 'Run an RSI cycle?',
          message: 'It runs the metric and gate commands of .rsi/config.json in a sandbox; your files change only if you accept the proposal.',
        },
      }),
      async invoke() {
        const summary = await controller.runCycle();
        if (isRefusal(summary)) return text(`The cycle did not run: ${summary.error}`);
        const lines = summary.cycles.flatMap((c) => c.lessons.map((l) => `- ${l.hypothesis}: ${describeOutcome(l, { p: true })}`));
        const proposal = summary.proposal ? `\nPending proposal (shown in the editor to accept or reject):\n${summary.proposal.patch}` : '\nNothing beat the baseline beyond the noise.';
        return text(`Metric ${summary.metric.name} (${summary.metric.direction}).\n${lines.join('\n')}${proposal}`);
      },
    }),
    vscode.lm.registerTool<{ limit?: number }>('rsi_lessons', {
      async invoke(options) {
        const folder = await pickFolder(undefined);
        if (!folder) return text('No workspace folder is open.');
        const log = await lessons.read(folder);
        const newest = log.lessons.slice(-(options.input.limit ?? 30)).reverse();
        if (newest.length === 0) return text('No lessons yet: no cycle has run in this workspace.');
        const lines = newest.map((l) => {
          const verdict = log.verdicts.get(l.id);
          return `- cycle ${l.cycle}, ${l.proposer}: ${l.hypothesis}: ${describeOutcome(l)}${verdict ? ` (${verdict} by the user)` : ''}`;
        });
        return text(`Lessons of ${folder.name}, newest first:\n${lines.join('\n')}`);
      },
    }),
  ];
}

function text(value: string): vscode.LanguageModelToolResult {
  return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(value)]);
}
