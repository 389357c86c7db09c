import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PendingProposal } from '../../core/cycle';
import type { Lesson } from '../../core/lessons';
import { Disposable } from '../lifecycle';
import { ProposalCodeLensProvider } from './codeLens';
import { ProposalDecorations } from './decorations';
import { proposalHeadline } from './evidence';
import { ProposalHover } from './hover';
import { ProposalFile, type TrackedHunk } from './proposalFile';
import { absentUri, PROPOSAL_SCHEME, proposedUri, ProposedContentProvider } from './proposedContent';

export interface HunkVerdict {
  lessonId: string;
  verdict: 'accepted' | 'rejected';
}

export interface ProposalSessionOptions {
  workspaceFolder: vscode.Uri;
  /** `changes[].before` is each file's content when the run started. */
  proposal: PendingProposal;
  /** The winners, to attribute each hunk to its lesson and show its evidence. */
  lessons: Lesson[];
  /** Called once per lesson, when all of its hunks are decided. */
  onVerdict: (verdicts: HunkVerdict[]) => Promise<void>;
  log?: (line: string) => void;
}

const STALE_WARNING = 'RSI: this change no longer applies: the lines it replaces were edited since the proposal was made. Reject it, or run a new cycle.';

/**
 * A pending proposal shown in the user's editors. The invariant: nothing of it reaches the
 * document (hence the disk, auto-save included) until the user accepts. Decorations and ghost text
 * show it, CodeLenses decide it, and each accept is one WorkspaceEdit, verified first and saved.
 * The session disposes itself once every hunk is decided.
 */
export class ProposalSession extends Disposable {
  private readonly files = new Map<string, ProposalFile>();
  /** Per lesson id, the hunks whose decisions make its verdict. */
  private readonly verdictHunks = new Map<string, TrackedHunk[]>();
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  /** Fires when hunks are decided or go stale, and when the session ends. */
  readonly onDidChange = this.changed.event;
  private readonly decorations = this._register(new ProposalDecorations());
  private readonly lenses: ProposalCodeLensProvider;
  private readonly proposedContent = this._register(
    new ProposedContentProvider(async (uri) => {
      const file = this.fileOf(uri);
      return file ? file.proposedText(await documentOf(file)) : '';
    }),
  );
  /** User actions run one at a time: each verifies the document it is about to edit. */
  private queue: Promise<unknown> = Promise.resolve();

  /** Shows the proposal in the editors of its files (opening them) and sets the context key rsi.hasProposal. */
  static async show(options: ProposalSessionOptions): Promise<ProposalSession> {
    const session = new ProposalSession(options);
    try {
      await session.open();
    } catch (err) {
      session.dispose();
      throw err;
    }
    return session;
  }

  private constructor(private readonly options: ProposalSessionOptions) {
    super();
    this.lenses = this._register(new ProposalCodeLensProvider((uri) => this.fileOf(uri), proposalHeadline(this.winners())));
    this._register(new ProposalHover((uri) => this.fileOf(uri)));
  }

  /** The winners whose verdict waits for a decision. */
  get undecidedLessons(): ReadonlySet<string> {
    return new Set(this.verdictHunks.keys());
  }

  /** Hunks not yet decided, stale ones included. */
  get pending(): number {
    let count = 0;
    for (const file of this.files.values()) count += file.pending.length;
    return count;
  }

  /** Applies one hunk; false, with a warning, when its lines changed since the proposal was made. */
  acceptHunk(uri: vscode.Uri, hunkId: string): Promise<boolean> {
    return this.serialize(false, async () => {
      const file = this.fileOf(uri);
      const hunk = file?.hunk(hunkId);
      if (!file || hunk?.state !== 'pending') return false;
      const accepted = await this.accept(file, [hunk]);
      if (accepted === 0) void vscode.window.showWarningMessage(STALE_WARNING);
      await this.settle();
      return accepted > 0;
    });
  }

  rejectHunk(uri: vscode.Uri, hunkId: string): Promise<void> {
    return this.serialize(undefined, async () => {
      const hunk = this.fileOf(uri)?.hunk(hunkId);
      if (hunk?.state !== 'pending') return;
      hunk.state = 'rejected';
      await this.settle();
    });
  }

  /** Accepts every pending hunk of one file, or of all files: one edit per file. Stale hunks stay pending. */
  acceptAll(uri?: vscode.Uri): Promise<void> {
    return this.serialize(undefined, async () => {
      let skipped = 0;
      for (const file of this.filesIn(uri)) {
        const pending = file.pending;
        skipped += pending.length - (await this.accept(file, pending));
      }
      if (skipped > 0) {
        void vscode.window.showWarningMessage(
          `RSI: ${skipped === 1 ? '1 change was' : `${skipped} changes were`} left pending: the lines they replace were edited since the proposal was made. Reject them, or run a new cycle.`,
        );
      }
      await this.settle();
    });
  }

  /** Drops every pending hunk of one file, or of all files. The buffer never held them: nothing to undo. */
  rejectAll(uri?: vscode.Uri): Promise<void> {
    return this.serialize(undefined, async () => {
      for (const file of this.filesIn(uri)) for (const hunk of file.pending) hunk.state = 'rejected';
      await this.settle();
    });
  }

  /** Opens the side-by-side view: the file as it is against what the pending hunks make of it, with one hunk in view if named. */
  async openDiff(uri?: vscode.Uri, hunkId?: string): Promise<void> {
    const active = vscode.window.activeTextEditor?.document.uri;
    const file = (uri && this.fileOf(uri)) ?? (active && this.fileOf(active)) ?? this.filesIn().find((f) => f.pending.length > 0);
    if (!file) return;
    const left = file.kind === 'create' ? absentUri(file.uri) : file.uri;
    const right = file.kind === 'delete' ? absentUri(file.uri) : proposedUri(file.uri);
    const line = hunkId === undefined ? undefined : file.proposedLine(hunkId);
    const selection = line === undefined ? undefined : new vscode.Range(line, 0, line, 0);
    await vscode.commands.executeCommand('vscode.diff', left, right, `${path.basename(file.uri.fsPath)}: current ↔ proposed (RSI)`, { preview: true, selection });
  }

  override dispose(): void {
    if (this.isDisposed) return;
    void vscode.commands.executeCommand('setContext', 'rsi.hasProposal', false);
    void this.closeDiffs();
    this.changed.fire();
    super.dispose();
  }

  /** The proposal's winners, oldest first. */
  private winners(): Lesson[] {
    return this.options.proposal.lessons.flatMap((id) => this.options.lessons.filter((l) => l.id === id));
  }

  /** A decided proposal leaves no "current ↔ proposed" tab behind: it would show nothing left to decide. */
  private async closeDiffs(): Promise<void> {
    const proposed = (uri: vscode.Uri) => uri.scheme === PROPOSAL_SCHEME && this.files.has(uri.with({ scheme: 'file', query: '' }).toString());
    const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => tab.input instanceof vscode.TabInputTextDiff && proposed(tab.input.modified));
    if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
  }

  private async open(): Promise<void> {
    const { proposal, workspaceFolder } = this.options;
    const winners = this.winners();
    // Listening first: an edit made while the files are being read is not missed.
    this.trackEditors();
    for (const change of proposal.changes) {
      const file = new ProposalFile(vscode.Uri.joinPath(workspaceFolder, change.path), change, winners);
      if (file.hunks.length === 0) continue;
      file.place(await documentOf(file));
      this.files.set(file.uri.toString(), file);
    }
    this.groupHunksByLesson(proposal.lessons, winners);
    this.markMeasuredHunks();
    await vscode.commands.executeCommand('setContext', 'rsi.hasProposal', true);
    // Last opened is active: open in reverse so the proposal's first file is in front.
    for (const file of this.filesIn().filter((f) => f.kind !== 'create').reverse()) {
      await vscode.window.showTextDocument(file.uri, { preview: false });
    }
    this.render();
    this.log(`proposal shown: ${this.pending} changes in ${this.files.size} files`);
  }

  /**
   * A lesson's verdict waits for the hunks attributed to it. A winner with no hunk of its own
   * (a later winner rewrote its lines) is judged with the files it touched, or else with the
   * whole proposal.
   */
  private groupHunksByLesson(lessonIds: string[], winners: Lesson[]): void {
    const all = this.filesIn().flatMap((f) => f.hunks);
    for (const id of lessonIds) {
      const touched = winners.find((l) => l.id === id)?.files ?? [];
      const own = all.filter((h) => h.lessons.some((l) => l.id === id));
      const ofFiles = this.filesIn().filter((f) => touched.includes(f.change.path)).flatMap((f) => f.hunks);
      this.verdictHunks.set(id, own.length > 0 ? own : ofFiles.length > 0 ? ofFiles : all);
    }
  }

  /**
   * A hunk shows a number as its own only when one winner made it and nothing else: that winner's
   * measurement is then the hunk's. Otherwise its lens names where it comes from.
   */
  private markMeasuredHunks(): void {
    const all = this.filesIn().flatMap((f) => f.hunks);
    for (const hunk of all) {
      const [only, ...others] = hunk.lessons;
      const alone = only !== undefined && others.length === 0 && all.filter((h) => h.lessons.includes(only)).length === 1;
      hunk.measured = alone ? only.metric : undefined;
    }
  }

  private trackEditors(): void {
    this._register(
      vscode.workspace.onDidChangeTextDocument((event) => {
        const file = this.fileOf(event.document.uri);
        if (!file || event.contentChanges.length === 0) return;
        const staleness = file.track(event);
        this.render(file);
        if (staleness) this.changed.fire();
      }),
    );
    // Decorations belong to an editor, not a document: an editor shown again starts bare. Only
    // redraw here: refreshing an open diff while its editor closes makes the workbench report an error.
    this._register(vscode.window.onDidChangeVisibleTextEditors(() => this.redraw()));
    this._register(vscode.workspace.onDidCloseTextDocument((document) => this.fileOf(document.uri)?.closed(document)));
    this._register(
      vscode.workspace.onDidOpenTextDocument((document) => {
        const file = this.fileOf(document.uri);
        if (file?.reopened(document)) {
          this.render(file);
          this.changed.fire();
        }
      }),
    );
  }

  /**
   * Applies the hunks of one file that still fit, as one WorkspaceEdit, and saves the file.
   * Returns how many were applied; the others are marked stale.
   */
  private async accept(file: ProposalFile, hunks: TrackedHunk[]): Promise<number> {
    const document = await documentOf(file);
    file.checkFit(document);
    const applicable = hunks.filter((h) => !h.stale);
    if (applicable.length === 0) return 0;
    // Decided before the edit lands, so tracking does not take our own edit for the user's.
    for (const hunk of applicable) hunk.state = 'accepted';
    if (!(await vscode.workspace.applyEdit(file.acceptEdit(applicable, document)))) {
      for (const hunk of applicable) hunk.state = 'pending';
      this.log(`could not apply the proposal to ${file.change.path}`);
      return 0;
    }
    if (file.kind === 'edit' && document && !(await document.save())) this.log(`${file.change.path}: accepted but not saved`);
    return applicable.length;
  }

  /** After decisions: redraw, report the verdicts now complete, end the session when nothing is pending. */
  private async settle(): Promise<void> {
    this.render();
    this.changed.fire();
    const verdicts: HunkVerdict[] = [];
    for (const [lessonId, hunks] of this.verdictHunks) {
      if (hunks.some((h) => h.state === 'pending')) continue;
      verdicts.push({ lessonId, verdict: hunks.some((h) => h.state === 'accepted') ? 'accepted' : 'rejected' });
      this.verdictHunks.delete(lessonId);
    }
    if (verdicts.length > 0) {
      try {
        await this.options.onVerdict(verdicts);
      } catch (err) {
        this.log(`recording verdicts failed: ${(err as Error).message ?? err}`);
      }
    }
    if (this.pending === 0) this.dispose();
  }

  /** After a change of the proposal or of a file: decorations, lenses and open diffs show it. */
  private render(only?: ProposalFile): void {
    if (this.isDisposed) return; // an action still running when the controller replaced the session
    this.redraw(only);
    this.lenses.refresh();
    for (const file of only ? [only] : this.filesIn()) this.proposedContent.refresh(file.uri);
  }

  /** Draws the decorations in the visible editors of one file, or of all. */
  private redraw(only?: ProposalFile): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const file = this.fileOf(editor.document.uri);
      if (file && (!only || file === only)) this.decorations.render(editor, file.hunks);
    }
  }

  private serialize<T>(whenDisposed: T, action: () => Promise<T>): Promise<T> {
    const result = this.queue.then(() => (this.isDisposed ? whenDisposed : action()));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private fileOf(uri: vscode.Uri): ProposalFile | undefined {
    return this.files.get(uri.toString());
  }

  private filesIn(uri?: vscode.Uri): ProposalFile[] {
    if (!uri) return [...this.files.values()];
    const file = this.fileOf(uri);
    return file ? [file] : [];
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

/** The file's document, or undefined when the file does not exist. */
async function documentOf(file: ProposalFile): Promise<vscode.TextDocument | undefined> {
  try {
    return await vscode.workspace.openTextDocument(file.uri);
  } catch {
    return undefined;
  }
}
