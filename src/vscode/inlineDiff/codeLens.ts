import * as vscode from 'vscode';
import { describeOutcome } from '../../core/format';
import type { LessonMetric } from '../../core/lessons';
import { Disposable } from '../lifecycle';
import { shownAt } from './hunks';
import type { ProposalFile, TrackedHunk } from './proposalFile';

/** "+12.4% [+8.1%, +15.0%], n=12+12": the change, its confidence interval and the runs per side. */
export function formatEvidence(metric: LessonMetric): string {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
  return `${pct(metric.change)} [${pct(metric.ci[0])}, ${pct(metric.ci[1])}], n=${metric.baseline.n}+${metric.candidate.n}`;
}

function acceptTitle(hunk: TrackedHunk): string {
  const metric = hunk.lesson?.metric;
  return metric ? `Accept (${formatEvidence(metric)})` : 'Accept';
}

/**
 * The proposal's lenses on the file's own `file:` URI: Accept All / Reject All / Open Diff at the
 * top, Accept (with evidence) and Reject on each pending hunk. A file with no pending hunk gets none.
 */
export class ProposalCodeLensProvider extends Disposable implements vscode.CodeLensProvider {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly fileFor: (uri: vscode.Uri) => ProposalFile | undefined) {
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
    const lenses = [
      new vscode.CodeLens(top, { title: 'Accept All', command: 'rsi.acceptProposal', arguments: [document.uri] }),
      new vscode.CodeLens(top, { title: 'Reject All', command: 'rsi.rejectProposal', arguments: [document.uri] }),
      new vscode.CodeLens(top, { title: 'Open Diff', command: 'rsi.openProposalDiff', arguments: [document.uri] }),
    ];
    for (const hunk of pending) {
      const line = Math.min(shownAt(hunk), document.lineCount - 1);
      const at = new vscode.Range(line, 0, line, 0);
      const args = [document.uri, hunk.id];
      // A stale hunk's lens runs Accept anyway: accepting refuses and says why.
      const accept = hunk.stale
        ? { title: 'Stale: the file changed here', tooltip: 'The lines this change replaces were edited since the proposal was made.' }
        : { title: acceptTitle(hunk), tooltip: hunk.lesson ? `${hunk.lesson.hypothesis}\n${describeOutcome(hunk.lesson, { p: true })}` : 'Apply this change' };
      lenses.push(
        new vscode.CodeLens(at, { ...accept, command: 'rsi.acceptHunk', arguments: args }),
        new vscode.CodeLens(at, { title: 'Reject', command: 'rsi.rejectHunk', arguments: args }),
      );
    }
    return lenses;
  }
}
