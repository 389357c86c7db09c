import * as vscode from 'vscode';
import { Disposable } from '../lifecycle';
import { ghostLabel } from './evidence';
import { shownAt } from './hunks';
import type { TrackedHunk } from './proposalFile';

/**
 * Shows pending hunks without touching the text: replaced lines get a struck-through red
 * background, the first new line appears as ghost text after them (with how many follow: the
 * hover, ProposalHover, shows them all). The buffer stays what is on disk, so auto-save and
 * linters never see a proposal.
 */
export class ProposalDecorations extends Disposable {
  private readonly removed = this._register(
    vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      backgroundColor: new vscode.ThemeColor('diffEditor.removedLineBackground'),
      textDecoration: 'line-through',
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.deletedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    }),
  );
  private readonly inserted = this._register(
    vscode.window.createTextEditorDecorationType({
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.addedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    }),
  );

  /** Draws the applicable pending hunks; stale ones are left to their CodeLens, their lines are no longer what they expect. */
  render(editor: vscode.TextEditor, hunks: TrackedHunk[]): void {
    const removed: vscode.DecorationOptions[] = [];
    const inserted: vscode.DecorationOptions[] = [];
    for (const hunk of hunks.filter((h) => h.state === 'pending' && !h.stale)) {
      if (hunk.oldLines.length > 0) {
        const last = editor.document.lineAt(hunk.start + hunk.oldLines.length - 1);
        removed.push({ range: new vscode.Range(hunk.start, 0, last.lineNumber, last.text.length) });
      }
      if (hunk.newLines.length > 0) inserted.push(ghostText(hunk, editor.document));
    }
    editor.setDecorations(this.removed, removed);
    editor.setDecorations(this.inserted, inserted);
  }
}

/** Ghost text of the new lines: after the replaced lines, or after the line above an insertion. */
function ghostText(hunk: TrackedHunk, document: vscode.TextDocument): vscode.DecorationOptions {
  const style: vscode.ThemableDecorationAttachmentRenderOptions = {
    contentText: ghostLabel(hunk.newLines),
    color: new vscode.ThemeColor('editorGhostText.foreground'),
    backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
    fontStyle: 'italic',
  };
  if (hunk.oldLines.length === 0 && hunk.start === 0) {
    // An insertion at the very top has no line above: show it before the first line.
    return { range: new vscode.Range(0, 0, 0, 0), renderOptions: { before: { ...style, margin: '0 2ch 0 0' } } };
  }
  const line = hunk.oldLines.length > 0 ? hunk.start + hunk.oldLines.length - 1 : shownAt(hunk);
  const end = document.lineAt(Math.min(line, document.lineCount - 1)).range.end;
  return { range: new vscode.Range(end, end), renderOptions: { after: { ...style, margin: '0 0 0 2ch' } } };
}
