import * as vscode from 'vscode';
import { Disposable } from '../lifecycle';

/** Read-only virtual documents holding what a file would become: the right side of "Open Diff". */
export const PROPOSAL_SCHEME = 'rsi-proposal';

/** The proposed version of a file: same path (so the diff editor picks the file's language), our scheme. */
export function proposedUri(file: vscode.Uri): vscode.Uri {
  return file.with({ scheme: PROPOSAL_SCHEME, query: 'proposed' });
}

/** An empty stand-in for the side that does not exist: a file the proposal creates or deletes. */
export function absentUri(file: vscode.Uri): vscode.Uri {
  return file.with({ scheme: PROPOSAL_SCHEME, query: 'absent' });
}

/**
 * Serves proposed contents computed on demand by the session, so an open diff always shows the
 * hunks still pending at their current place; `refresh` makes an open diff re-read its file.
 */
export class ProposedContentProvider extends Disposable implements vscode.TextDocumentContentProvider {
  private readonly changed = this._register(new vscode.EventEmitter<vscode.Uri>());
  readonly onDidChange = this.changed.event;

  constructor(private readonly proposedText: (file: vscode.Uri) => Promise<string>) {
    super();
    this._register(vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this));
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    if (uri.query === 'absent') return '';
    return this.proposedText(uri.with({ scheme: 'file', query: '' }));
  }

  refresh(file: vscode.Uri): void {
    this.changed.fire(proposedUri(file));
  }
}
