import type { EngineEvent } from '../core/cycle';
import type { Lesson } from '../core/lessons';
import { percent } from '../core/format';
import { gainSign } from '../core/stats';

/**
 * What a run is doing, folded from the engine's events: the stage, candidate i of n, the metric
 * runs made so far and the best kept change. The status bar and the progress notification show it.
 */
export class RunProgress {
  private cycle = 0;
  private stage = 'starting';
  private detail = 'starting';
  private candidate: { index: number; total: number } | undefined;
  /** Candidates started and not yet decided (index to hypothesis): several when the evaluator runs them side by side. */
  private readonly inFlight = new Map<number, string>();
  /** Runs of each candidate phase, keyed cycle/index/phase: events report a phase's running count. */
  private readonly phaseRuns = new Map<string, number>();
  private best: Lesson | undefined;

  update(event: EngineEvent): void {
    switch (event.kind) {
      case 'stage':
        this.cycle = event.cycle;
        this.stage = event.stage;
        this.detail = event.message;
        this.candidate = undefined;
        this.inFlight.clear();
        break;
      case 'candidate':
        this.cycle = event.cycle;
        this.stage = event.phase;
        this.detail = `${event.phase}${event.worker ? ` on ${event.worker}` : ''}: ${event.hypothesis}`;
        this.candidate = { index: event.index, total: event.total };
        this.inFlight.set(event.index, event.hypothesis);
        this.phaseRuns.set(`${event.cycle}/${event.index}/${event.phase}`, event.runs.baseline + event.runs.candidate);
        break;
      case 'calibration':
        this.stage = 'calibrate';
        this.detail = `calibrating the noise floor: A/A pair ${event.pairs} of ${event.total}`;
        break;
      case 'lesson': {
        if (isBetterKept(event.lesson, this.best)) this.best = event.lesson;
        // A lesson names no index: its hypothesis finds the candidate (the first, should two share one).
        const decided = [...this.inFlight].find(([, hypothesis]) => hypothesis === event.lesson.hypothesis);
        if (decided) this.inFlight.delete(decided[0]);
        break;
      }
    }
  }

  get runs(): number {
    let total = 0;
    for (const runs of this.phaseRuns.values()) total += runs;
    return total;
  }

  /** The best kept change of the run so far, e.g. "+12.34%". */
  get bestChange(): string | undefined {
    return this.best?.metric && percent(this.best.metric.change);
  }

  /** Candidates evaluated side by side now, by number ("1, 3"); undefined when fewer than two. */
  private get sideBySide(): string | undefined {
    if (this.inFlight.size < 2) return undefined;
    return [...this.inFlight.keys()].sort((a, b) => a - b).map((index) => index + 1).join(', ');
  }

  /** Short, for the status bar: "candidate 2/4 · 6 runs · best +12.34%" ("candidates 1, 3/4" side by side). */
  get short(): string {
    const several = this.sideBySide;
    const { candidate } = this;
    const parts = [candidate ? `${several ? `candidates ${several}` : `candidate ${candidate.index + 1}`}/${candidate.total}` : this.stage];
    if (this.runs > 0) parts.push(runCount(this.runs));
    if (this.bestChange) parts.push(`best ${this.bestChange}`);
    return parts.join(' · ');
  }

  /** Long, for the progress notification. */
  get message(): string {
    const where = this.cycle > 0 ? `cycle ${this.cycle}` : '';
    const several = this.sideBySide;
    const which = !this.candidate ? '' : several ? `candidates ${several} of ${this.candidate.total}, side by side` : `candidate ${this.candidate.index + 1} of ${this.candidate.total}`;
    const head = [where, which].filter(Boolean).join(', ');
    const tail = [this.runs > 0 && `${runCount(this.runs)} so far`, this.bestChange && `best ${this.bestChange}`].filter(Boolean).join(', ');
    // Side by side, the latest event's phase and hypothesis would flicker between candidates: the head says it all.
    const detail = several ? '' : this.detail;
    return `${head}${head && detail ? ': ' : ''}${detail}${tail ? ` (${tail})` : ''}`;
  }
}

function runCount(runs: number): string {
  return `${runs} run${runs === 1 ? '' : 's'}`;
}

function isBetterKept(lesson: Lesson, best: Lesson | undefined): boolean {
  if (lesson.outcome !== 'kept' || !lesson.metric) return false;
  if (!best?.metric) return true;
  const sign = gainSign(lesson.metric.direction);
  return sign * lesson.metric.change > sign * best.metric.change;
}
