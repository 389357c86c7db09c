import * as vscode from 'vscode';
import type { Lesson, LessonMetric } from '../../core/lessons';
import type { FileChange } from '../../core/patch';
import { attributeHunks } from './attribution';
import { applyHunks, computeHunks, fits, hunkEdit, relocate, shiftedStart, splitLines, type Hunk, type Lines } from './hunks';

/** A new file and a deleted one are all-or-nothing: one hunk holding the whole file. */
export type FileKind = 'edit' | 'create' | 'delete';

export interface TrackedHunk extends Hunk {
  state: 'pending' | 'accepted' | 'rejected';
  /** Pending but no longer applicable: the lines it replaces changed. Only Reject is offered. */
  stale: boolean;
  /** The winners it comes from, oldest first. */
  lessons: Lesson[];
  /**
   * This hunk's own measured effect: set only when one winner made exactly this hunk and nothing
   * else, so that its measurement is the hunk's. The session sets it, knowing every file.
   */
  measured?: LessonMetric;
}

/**
 * One file of a proposal and its hunks, followed through the user's edits. The document is never
 * modified here: the session applies `acceptEdit` when the user accepts.
 */
export class ProposalFile {
  readonly kind: FileKind;
  readonly hunks: TrackedHunk[];
  /** The text when the file's document was closed: no events come while it is, so reopening diffs against this. */
  private textWhenClosed: string | undefined;

  constructor(readonly uri: vscode.Uri, readonly change: FileChange, lessons: Lesson[]) {
    this.kind = change.before === null ? 'create' : change.after === null ? 'delete' : 'edit';
    const before = change.before === null ? [] : splitLines(change.before);
    const after = change.after === null ? [] : splitLines(change.after);
    const hunks = computeHunks(before, after);
    const sources = attributeHunks(change, hunks, lessons);
    this.hunks = hunks.map((hunk, i) => ({ ...hunk, state: 'pending', stale: false, lessons: sources[i] }));
  }

  get pending(): TrackedHunk[] {
    return this.hunks.filter((h) => h.state === 'pending');
  }

  hunk(id: string): TrackedHunk | undefined {
    return this.hunks.find((h) => h.id === id);
  }

  /**
   * Places the hunks in the document as it is now, which may differ from `before` when the user
   * edited the file during the run. `document` is undefined when the file does not exist.
   */
  place(document: vscode.TextDocument | undefined): void {
    if (document && this.change.before !== null && document.getText() !== this.change.before) {
      relocate(this.hunks, splitLines(this.change.before), splitLines(document.getText()));
    }
    this.checkFit(document);
  }

  /** Follows one document change event; true when a hunk went stale or became applicable again. */
  track(event: vscode.TextDocumentChangeEvent): boolean {
    // Bottom-up: an edit's range is then unaffected by the edits applied before it.
    const edits = [...event.contentChanges].sort((a, b) => b.range.start.compareTo(a.range.start));
    for (const hunk of this.pending) {
      for (const edit of edits) hunk.start = shiftedStart(hunk.start, { start: edit.range.start, end: edit.range.end, text: edit.text });
    }
    return this.checkFit(event.document);
  }

  closed(document: vscode.TextDocument): void {
    this.textWhenClosed = document.getText();
  }

  /** A reopened document may hold changes made on disk meanwhile: find the hunks again. */
  reopened(document: vscode.TextDocument): boolean {
    const previous = this.textWhenClosed;
    this.textWhenClosed = undefined;
    if (previous === undefined || previous === document.getText()) return false;
    relocate(this.pending, splitLines(previous), splitLines(document.getText()));
    return this.checkFit(document);
  }

  /**
   * Marks the pending hunks that no longer apply: their lines changed, or the file to create
   * exists now, or the file to edit is gone. True when any flag changed.
   */
  checkFit(document: Lines | undefined): boolean {
    let changed = false;
    for (const hunk of this.pending) {
      const stale = this.kind === 'create' ? document !== undefined : !document || !fits(hunk, document);
      changed ||= stale !== hunk.stale;
      hunk.stale = stale;
    }
    return changed;
  }

  /** One WorkspaceEdit for the given hunks, which `checkFit` found applicable (so an edited file has a document). */
  acceptEdit(hunks: TrackedHunk[], document: vscode.TextDocument | undefined): vscode.WorkspaceEdit {
    const edit = new vscode.WorkspaceEdit();
    if (this.kind === 'create') {
      edit.createFile(this.uri, { contents: new TextEncoder().encode(this.change.after!) });
    } else if (this.kind === 'delete') {
      edit.deleteFile(this.uri);
    } else if (document) {
      const eol = eolOf(document);
      for (const hunk of hunks) {
        const { start, end, text } = hunkEdit(hunk, document, eol);
        edit.replace(this.uri, new vscode.Range(start.line, start.character, end.line, end.character), text);
      }
    }
    return edit;
  }

  /** Where a pending hunk's new lines begin in `proposedText`, the right side of Open Diff. */
  proposedLine(hunkId: string): number | undefined {
    const hunk = this.hunk(hunkId);
    if (!hunk || hunk.state !== 'pending' || hunk.stale) return undefined;
    const above = this.pending.filter((h) => !h.stale && h.start < hunk.start);
    return above.reduce((line, h) => line + h.newLines.length - h.oldLines.length, hunk.start);
  }

  /** What the file becomes if every applicable pending hunk is accepted (the right side of Open Diff). */
  proposedText(document: vscode.TextDocument | undefined): string {
    if (this.kind !== 'edit' || !document) return this.change.after ?? '';
    const applicable = this.pending.filter((h) => !h.stale);
    return applyHunks(splitLines(document.getText()), applicable).join(eolOf(document));
  }
}

function eolOf(document: vscode.TextDocument): string {
  return document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
}
