import * as vscode from 'vscode';
import type { RunSummary } from '../core/cycle';
import { describeChange, metricValue, percent } from '../core/format';
import { overallChange } from './inlineDiff/evidence';
import { Disposable } from './lifecycle';
import type { RunProgress } from './runProgress';

/**
 * One status bar item: while a run goes, its stage, candidate i of n, runs so far and best change;
 * when idle, the last result with its details in the tooltip. A click opens the report.
 */
export class RsiStatusBar extends Disposable {
  private readonly item = this._register(vscode.window.createStatusBarItem('rsi.status', vscode.StatusBarAlignment.Left, 0));

  constructor() {
    super();
    this.item.name = 'RSI Loop';
    this.item.command = 'rsi.showReport';
    this.show('$(beaker) RSI', 'RSI Loop: no run in this window yet.');
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  get tooltip(): string {
    return this.item.tooltip as string;
  }

  showProgress(progress: RunProgress): void {
    this.show(`$(sync~spin) RSI: ${progress.short}`, `RSI Loop is running: ${progress.message}`);
  }

  showResult(summary: RunSummary, stopReason?: string): void {
    const { name, direction } = summary.metric;
    const first = summary.cycles[0]?.baseline.median;
    const winners = summary.cycles.flatMap((c) => (c.winner?.metric ? [c.winner.metric] : []));
    const last = winners[winners.length - 1];
    const lines: string[] = [];
    const duration = `${summary.cycles.length} cycle${summary.cycles.length === 1 ? '' : 's'} in ${(summary.durationMs / 1000).toFixed(1)} s`;
    lines.push(`RSI Loop, last run: ${duration}${summary.cancelled ? `, ${stopReason ?? 'stopped'}` : ''}`);

    let text: string;
    const all = summary.accumulated;
    if (all) {
      text = `$(pass) RSI: ${name} ${percent(all.change)}`;
      lines.push(`${name} (${direction}): original ${metricValue(all.baseline.median)} → final ${metricValue(all.candidate.median)}, ${describeChange(all)}, measured side by side at the end`);
    } else if (last && first !== undefined) {
      const overall = overallChange(first, last);
      text = `$(pass) RSI: ${name} ${percent(overall)}`;
      lines.push(`${name} (${direction}): ${metricValue(first)} → ${metricValue(last.candidate.median)} (${percent(overall)})`);
    } else {
      text = summary.cancelled ? '$(debug-stop) RSI: stopped' : '$(circle-slash) RSI: no gain';
      if (first !== undefined) lines.push(`${name} (${direction}): baseline ${metricValue(first)}`);
    }
    const counts = Object.entries(summary.outcomes).map(([outcome, n]) => `${n} ${outcome}`);
    lines.push(`Candidates: ${counts.join(', ') || 'none'}`);
    if (summary.proposal) lines.push('A proposal waits in the editor: accept or reject each change.');
    else if (summary.applied.length > 0) lines.push(`Applied to your files: ${summary.applied.map((l) => l.hypothesis).join('; ')}`);
    else lines.push('Nothing beat the baseline beyond the noise: your files are unchanged.');
    this.show(text, lines.join('\n'));
  }

  showError(message: string): void {
    this.show('$(error) RSI', message);
  }

  show(text: string, tooltip: string): void {
    this.item.text = text;
    // Plain text: hypotheses and error messages may hold Markdown's special characters.
    this.item.tooltip = `${tooltip}\nClick for the report.`;
  }
}
