import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { LessonsFile } from './lessonsFile';
import { Disposable, toDisposable } from './lifecycle';
import { reportHtml } from './reportHtml';

/** `RSI: Show Report`: one webview panel, redrawn whenever the lessons change. */
export class ReportPanel extends Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private folder: vscode.WorkspaceFolder | undefined;

  constructor(private readonly lessons: LessonsFile) {
    super();
    this._register(lessons.onDidChange(() => void this.render()));
    this._register(toDisposable(() => this.panel?.dispose()));
  }

  /** The page shown now, if any: tests read it. */
  get html(): string | undefined {
    return this.panel?.webview.html;
  }

  async show(folder: vscode.WorkspaceFolder): Promise<void> {
    this.folder = folder;
    if (this.panel) {
      this.panel.reveal();
    } else {
      // No scripts and no local resources: the page is static HTML with an inline SVG.
      const panel = vscode.window.createWebviewPanel('rsi.report', 'RSI Report', vscode.ViewColumn.Active, { enableScripts: false, localResourceRoots: [] });
      // The listener goes with the panel's own emitter when the panel is disposed.
      panel.onDidDispose(() => {
        if (this.panel === panel) this.panel = undefined;
      });
      this.panel = panel;
    }
    await this.render();
  }

  private async render(): Promise<void> {
    const { panel, folder } = this;
    if (!panel || !folder) return;
    const log = await this.lessons.read(folder);
    if (this.panel !== panel) return; // closed while reading
    panel.title = `RSI Report: ${folder.name}`;
    panel.webview.html = reportHtml({ folderName: folder.name, log, nonce: randomBytes(16).toString('base64') });
  }
}
