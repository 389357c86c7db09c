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
        break;
      case 'candidate':
        this.cycle = event.cycle;
        this.stage = event.phase;
        this.detail = `${event.phase}: ${event.hypothesis}`;
        this.candidate = { index: event.index, total: event.total };
        this.phaseRuns.set(`${event.cycle}/${event.index}/${event.phase}`, event.runs.baseline + event.runs.candidate);
        break;
      case 'calibration':
        this.stage = 'calibrate';
        this.detail = `calibrating the noise floor: A/A pair ${event.pairs} of ${event.total}`;
        break;
      case 'lesson':
        if (isBetterKept(event.lesson, this.best)) this.best = event.lesson;
        break;
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

  /** Short, for the status bar: "candidate 2/4 · 6 runs · best +12.34%". */
  get short(): string {
    const parts = [this.candidate ? `candidate ${this.candidate.index + 1}/${this.candidate.total}` : this.stage];
    if (this.runs > 0) parts.push(runCount(this.runs));
    if (this.bestChange) parts.push(`best ${this.bestChange}`);
    return parts.join(' · ');
  }

  /** Long, for the progress notification. */
  get message(): string {
    const where = this.cycle > 0 ? `cycle ${this.cycle}` : '';
    const which = this.candidate ? `candidate ${this.candidate.index + 1} of ${this.candidate.total}` : '';
    const head = [where, which].filter(Boolean).join(', ');
    const tail = [this.runs > 0 && `${runCount(this.runs)} so far`, this.bestChange && `best ${this.bestChange}`].filter(Boolean).join(', ');
    return `${head ? `${head}: ` : ''}${this.detail}${tail ? ` (${tail})` : ''}`;
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
