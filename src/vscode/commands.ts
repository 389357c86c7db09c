import * as vscode from 'vscode';
import { openConfig } from './configFile';
import type { CycleController } from './controller';
import { API_KEY_SECRET } from './engineOptions';
import type { ProposalSession } from './inlineDiff/session';
import type { LessonDiffs } from './lessonDiff';
import type { LessonsFile } from './lessonsFile';
import type { ReportPanel } from './report';
import { pickFolder } from './workspaceFolder';

export interface CommandTargets {
  controller: CycleController;
  lessons: LessonsFile;
  lessonDiffs: LessonDiffs;
  report: ReportPanel;
  secrets: vscode.SecretStorage;
}

/** The contributed commands, each a thin call into the object that does the work. */
export function registerCommands({ controller, lessons, lessonDiffs, report, secrets }: CommandTargets): vscode.Disposable[] {
  // Menus pass their own arguments (a tree node, an editor's URI): only a URI names a folder.
  const uriOf = (arg: unknown) => (arg instanceof vscode.Uri ? arg : undefined);
  const withFolder = (arg: unknown, action: (folder: vscode.WorkspaceFolder) => Promise<void>) =>
    pickFolder(uriOf(arg)).then((folder) => folder && action(folder));
  const withProposal = <T>(action: (session: ProposalSession) => Promise<T>): Promise<T> | undefined => {
    const session = controller.proposal;
    if (session) return action(session);
    void vscode.window.showInformationMessage('RSI: no proposal is pending.');
    return undefined;
  };

  return [
    vscode.commands.registerCommand('rsi.runCycle', (arg?: unknown) => controller.runCycle(uriOf(arg))),
    vscode.commands.registerCommand('rsi.runContinuously', (arg?: unknown) => controller.runContinuously(uriOf(arg))),
    vscode.commands.registerCommand('rsi.calibrate', (arg?: unknown) => controller.calibrate(uriOf(arg))),
    vscode.commands.registerCommand('rsi.stop', () => controller.stop()),
    vscode.commands.registerCommand('rsi.acceptHunk', (uri: vscode.Uri, hunkId: string) => withProposal((s) => s.acceptHunk(uri, hunkId))),
    vscode.commands.registerCommand('rsi.rejectHunk', (uri: vscode.Uri, hunkId: string) => withProposal((s) => s.rejectHunk(uri, hunkId))),
    vscode.commands.registerCommand('rsi.acceptProposal', (arg?: unknown) => withProposal((s) => s.acceptAll(uriOf(arg)))),
    vscode.commands.registerCommand('rsi.rejectProposal', (arg?: unknown) => withProposal((s) => s.rejectAll(uriOf(arg)))),
    vscode.commands.registerCommand('rsi.openProposalDiff', (arg?: unknown, hunkId?: string) => withProposal((s) => s.openDiff(uriOf(arg), hunkId))),
    vscode.commands.registerCommand('rsi.showReport', (arg?: unknown) => withFolder(arg, (folder) => report.show(folder))),
    vscode.commands.registerCommand('rsi.openConfig', (arg?: unknown) => withFolder(arg, openConfig)),
    vscode.commands.registerCommand('rsi.refreshLessons', () => lessons.invalidate()),
    vscode.commands.registerCommand('rsi.setApiKey', () => setApiKey(secrets)),
    vscode.commands.registerCommand('rsi.openLesson', (folderUri: vscode.Uri, lessonId: string) =>
      withFolder(folderUri, async (folder) => {
        const lesson = (await lessons.read(folder)).lessons.find((l) => l.id === lessonId);
        if (lesson) await lessonDiffs.open(folder, lesson);
      }),
    ),
  ];
}

/** Keeps the key in SecretStorage (the OS keychain), never in a file; an empty entry removes it. */
async function setApiKey(secrets: vscode.SecretStorage): Promise<void> {
  const key = await vscode.window.showInputBox({
    title: 'RSI: API key of the OpenAI-compatible proposer',
    prompt: 'Used instead of the environment variable named by proposer.apiKeyEnv. Leave empty to remove the stored key.',
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return;
  if (key === '') await secrets.delete(API_KEY_SECRET);
  else await secrets.store(API_KEY_SECRET, key);
  void vscode.window.showInformationMessage(key === '' ? 'RSI: the stored API key was removed.' : 'RSI: the API key is stored in your keychain.');
}
