import * as vscode from 'vscode';
import { Disposable } from '../lifecycle';
import { acceptTitle, sourceLines } from './evidence';
import { shownAt } from './hunks';
import type { ProposalFile } from './proposalFile';

/**
 * The proposal's lenses on the file's own `file:` URI: at the top, what the whole proposal measured
 * and Accept All / Reject All / Open Diff; on each pending hunk, Accept (with the hunk's own
 * evidence only when it was measured alone, else the changes it comes from) and Reject.
 * A file with no pending hunk gets none.
 */
export class ProposalCodeLensProvider extends Disposable implements vscode.CodeLensProvider {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(
    private readonly fileFor: (uri: vscode.Uri) => ProposalFile | undefined,
    /** What the whole proposal measured, e.g. "Whole proposal: sharpe 0.5 → 1.6 (+217%), ...". */
    private readonly headline: string | undefined,
  ) {
    super();
    this._register(vscode.languages.registerCodeLensProvider({ scheme: 'file' }, this));
  }

  refresh(): void {
    this.changed.fire();
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const pending = this.fileFor(document.uri)?.pending ?? [];
    if (pending.length === 0) return [];
    const top = new vscode.Range(0, 0, 0, 0);
    // No command: the headline is a statement, not an action.
    const lenses: vscode.CodeLens[] = this.headline ? [new vscode.CodeLens(top, { title: this.headline, command: '' })] : [];
    lenses.push(
      new vscode.CodeLens(top, { title: 'Accept All', command: 'rsi.acceptProposal', arguments: [document.uri] }),
      new vscode.CodeLens(top, { title: 'Reject All', command: 'rsi.rejectProposal', arguments: [document.uri] }),
      new vscode.CodeLens(top, { title: 'Open Diff', command: 'rsi.openProposalDiff', arguments: [document.uri] }),
    );
    for (const hunk of pending) {
      const line = Math.min(shownAt(hunk), document.lineCount - 1);
      const at = new vscode.Range(line, 0, line, 0);
      const args = [document.uri, hunk.id];
      // A stale hunk's lens runs Accept anyway: accepting refuses and says why.
      const accept = hunk.stale
        ? { title: 'Stale: the file changed here', tooltip: 'The lines this change replaces were edited since the proposal was made.' }
        : { title: acceptTitle(hunk), tooltip: sourceLines(hunk).join('\n') || 'Apply this change' };
      lenses.push(
        new vscode.CodeLens(at, { ...accept, command: 'rsi.acceptHunk', arguments: args }),
        new vscode.CodeLens(at, { title: 'Reject', command: 'rsi.rejectHunk', arguments: args }),
      );
    }
    return lenses;
  }
}
