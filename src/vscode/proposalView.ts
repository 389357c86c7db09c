import * as vscode from 'vscode';
import type { PendingProposal, RunSummary } from '../core/cycle';
import { appendRecords, type Verdict } from '../core/lessons';
import { ProposalSession, type HunkVerdict } from './inlineDiff/session';
import type { LessonsFile } from './lessonsFile';
import { Disposable, toDisposable } from './lifecycle';

/** The pending proposal in the editors: one at a time; each hunk's verdict becomes a record of its lesson. */
export class ProposalView extends Disposable {
  private current: ProposalSession | undefined;
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  /** Fires when a proposal is shown, a hunk of it decided, or it ends. */
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly lessons: LessonsFile,
  ) {
    super();
    this._register(toDisposable(() => this.current?.dispose()));
  }

  get session(): ProposalSession | undefined {
    return this.current;
  }

  /** The lessons of the pending proposal still waiting for the user's decision. */
  get undecidedLessons(): ReadonlySet<string> {
    return this.current?.undecidedLessons ?? new Set();
  }

  /** The winners' accumulated change as an inline diff. */
  async show(folder: vscode.WorkspaceFolder, proposal: PendingProposal, summary: RunSummary): Promise<void> {
    // A new proposal replaces one still pending: both apply to the files as they are on disk.
    this.current?.dispose();
    this.current = undefined;
    this.changed.fire();
    const winners = new Set(proposal.lessons);
    try {
      const session = await ProposalSession.show({
        workspaceFolder: folder.uri,
        proposal,
        lessons: summary.cycles.flatMap((c) => c.winner ?? []).filter((l) => winners.has(l.id)),
        onVerdict: (verdicts) => this.record(folder, verdicts),
        log: (line) => this.log.info(line),
      });
      this.current = session;
      this.changed.fire();
      // The session ends itself once every hunk is decided (its emitter, and this listener, go with it).
      session.onDidChange(() => {
        if (this.current !== session) return;
        if (session.pending === 0) this.current = undefined;
        this.changed.fire();
      });
    } catch (err) {
      this.log.error('could not show the proposal; its patch:\n' + proposal.patch, err);
      void vscode.window.showErrorMessage(`RSI: could not show the proposal (${(err as Error).message}); its patch is in the RSI log.`);
    }
  }

  private async record(folder: vscode.WorkspaceFolder, verdicts: HunkVerdict[]): Promise<void> {
    const time = new Date().toISOString();
    await appendRecords(folder.uri.fsPath, verdicts.map((v): Verdict => ({ v: 1, type: 'verdict', lesson: v.lessonId, verdict: v.verdict, time })));
    this.lessons.invalidate(folder);
  }
}
