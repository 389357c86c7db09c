import * as vscode from 'vscode';
import { Disposable } from '../lifecycle';
import { hunkHoverMarkdown } from './evidence';
import { shownAt } from './hunks';
import type { ProposalFile } from './proposalFile';

/**
 * The hover of a pending hunk, over the lines it replaces (or the line its insertion follows): the
 * whole hunk rendered as a diff, where it comes from, and a link to the diff view. A hover provider
 * rather than the decorations' hoverMessage: two decorations on one line showed it twice.
 */
export class ProposalHover extends Disposable implements vscode.HoverProvider {
  constructor(private readonly fileFor: (uri: vscode.Uri) => ProposalFile | undefined) {
    super();
    this._register(vscode.languages.registerHoverProvider({ scheme: 'file' }, this));
  }

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const file = this.fileFor(document.uri);
    const hunk = file?.pending.find((h) => !h.stale && shownAt(h) <= position.line && position.line <= Math.max(shownAt(h), h.start + h.oldLines.length - 1));
    if (!hunk) return undefined;
    const command = 'rsi.openProposalDiff';
    const link = `command:${command}?${encodeURIComponent(JSON.stringify([document.uri, hunk.id]))}`;
    const markdown = new vscode.MarkdownString(hunkHoverMarkdown(hunk, link));
    markdown.isTrusted = { enabledCommands: [command] };
    const last = Math.max(shownAt(hunk), hunk.start + hunk.oldLines.length - 1);
    return new vscode.Hover(markdown, new vscode.Range(shownAt(hunk), 0, last, document.lineAt(Math.min(last, document.lineCount - 1)).text.length));
  }
}
