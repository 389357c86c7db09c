import * as vscode from 'vscode';
import { Disposable } from '../lifecycle';
import { formatEvidence } from './codeLens';
import { shownAt } from './hunks';
import type { TrackedHunk } from './proposalFile';

/** Ghost text longer than this is cut; the hover shows the whole hunk. */
const GHOST_MAX_CHARS = 120;
/** A hover shows at most this many lines of a hunk; Open Diff shows the rest. */
const HOVER_MAX_LINES = 40;
/** Several added lines share one line of ghost text, joined by this visible mark. */
const LINE_JOIN = '  ⏎  ';

/**
 * Shows pending hunks without touching the text: replaced lines get a struck-through red
 * background, the new lines appear as ghost text after them. The buffer stays what is on disk,
 * so auto-save and linters never see a proposal.
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
      const hoverMessage = hover(hunk);
      if (hunk.oldLines.length > 0) {
        const last = editor.document.lineAt(hunk.start + hunk.oldLines.length - 1);
        removed.push({ range: new vscode.Range(hunk.start, 0, last.lineNumber, last.text.length), hoverMessage });
      }
      if (hunk.newLines.length > 0) inserted.push({ ...ghostText(hunk, editor.document), hoverMessage });
    }
    editor.setDecorations(this.removed, removed);
    editor.setDecorations(this.inserted, inserted);
  }
}

/** The new lines as one line of ghost text: after the replaced lines, or after the line above an insertion. */
function ghostText(hunk: TrackedHunk, document: vscode.TextDocument): vscode.DecorationOptions {
  const joined = hunk.newLines.map((l) => l.trim()).join(LINE_JOIN);
  const contentText = joined.length > GHOST_MAX_CHARS ? `${joined.slice(0, GHOST_MAX_CHARS - 1)}…` : joined;
  const style: vscode.ThemableDecorationAttachmentRenderOptions = {
    contentText,
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

function hover(hunk: TrackedHunk): vscode.MarkdownString {
  const text = new vscode.MarkdownString();
  text.appendMarkdown('**RSI proposal**');
  if (hunk.lesson) {
    text.appendText(`: ${hunk.lesson.hypothesis}`);
    if (hunk.lesson.metric) text.appendText(`\n\n${hunk.lesson.metric.name} ${formatEvidence(hunk.lesson.metric)}`);
  }
  const lines = [...hunk.oldLines.map((l) => `-${l}`), ...hunk.newLines.map((l) => `+${l}`)];
  text.appendCodeblock(lines.slice(0, HOVER_MAX_LINES).join('\n'), 'diff');
  if (lines.length > HOVER_MAX_LINES) text.appendText(`${lines.length - HOVER_MAX_LINES} more lines: Open Diff shows them all.`);
  return text;
}
