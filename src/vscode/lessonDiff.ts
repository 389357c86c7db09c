import { applyPatch, parsePatch, reversePatch, type StructuredPatch } from 'diff';
import * as vscode from 'vscode';
import type { Lesson } from '../core/lessons';
import { Disposable } from './lifecycle';

const SCHEME = 'rsi-lesson';

interface DiffSides {
  file: vscode.Uri;
  before: vscode.Uri;
  after: vscode.Uri;
}

/**
 * Opens a lesson's patch in a diff editor. A patch holds only the lines around its changes, so the
 * two sides are rebuilt from the file as it is now: the patch applied to it (a lesson not taken) or
 * reversed out of it (a lesson taken). When neither fits, the file has moved on since: the patch
 * opens as a text document instead.
 */
export class LessonDiffs extends Disposable implements vscode.TextDocumentContentProvider {
  /** The read-only sides' text by URI, dropped when their document closes. */
  private readonly contents = new Map<string, string>();

  constructor() {
    super();
    this._register(vscode.workspace.registerTextDocumentContentProvider(SCHEME, this));
    this._register(vscode.workspace.onDidCloseTextDocument((document) => this.contents.delete(document.uri.toString())));
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '';
  }

  async open(folder: vscode.WorkspaceFolder, lesson: Lesson): Promise<void> {
    if (!lesson.patch) {
      const why = lesson.detail ? `: ${lesson.detail.split('\n')[0]}` : '';
      void vscode.window.showInformationMessage(`RSI: this lesson has no patch to show (${lesson.outcome}${why}).`);
      return;
    }
    const sides = await Promise.all(parsePatch(lesson.patch).map((patch) => this.sides(folder, lesson, patch)));
    const title = `${lesson.hypothesis} (RSI lesson)`;
    if (sides.length === 0 || sides.some((s) => s === undefined)) {
      const document = await vscode.workspace.openTextDocument({ language: 'diff', content: lesson.patch });
      await vscode.window.showTextDocument(document, { preview: true });
    } else if (sides.length === 1) {
      await vscode.commands.executeCommand('vscode.diff', sides[0]!.before, sides[0]!.after, title, { preview: true });
    } else {
      await vscode.commands.executeCommand('vscode.changes', title, sides.map((s) => [s!.file, s!.before, s!.after]));
    }
  }

  private async sides(folder: vscode.WorkspaceFolder, lesson: Lesson, patch: StructuredPatch): Promise<DiffSides | undefined> {
    const name = patch.newFileName === '/dev/null' ? patch.oldFileName : patch.newFileName;
    if (!name) return undefined;
    const relative = name.replace(/^[ab]\//, '');
    const file = vscode.Uri.joinPath(folder.uri, relative);
    const current = await readText(file);
    const applied = applyPatch(current, patch);
    const reverted = applied === false ? applyPatch(current, reversePatch(patch)) : false;
    if (applied === false && reverted === false) return undefined;
    const [before, after] = applied !== false ? [current, applied] : [reverted as string, current];
    const side = (name: 'before' | 'after', text: string) => {
      // The path keeps the file's name, so the editor picks its language.
      const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${relative}`, query: `${lesson.id}.${name}` });
      this.contents.set(uri.toString(), text);
      return uri;
    };
    return { file, before: side('before', before), after: side('after', after) };
  }
}

/** The file's text; empty when it does not exist (a lesson that creates it). */
async function readText(uri: vscode.Uri): Promise<string> {
  try {
    return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  } catch {
    return '';
  }
}
