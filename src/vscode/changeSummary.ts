// A lesson's change in a few words, read from its patch: "fast 3 → 4, stopLoss 0.03 → 0.05".
// The lessons tree leads with it (a hypothesis is often a long sentence). No vscode import.
import type { Lesson } from '../core/lessons';

/** Longer replaced text than this is no longer "a value": the summary falls back to the hypothesis. */
const MAX_VALUE_CHARS = 30;
const MAX_HYPOTHESIS_CHARS = 80;
/** Changes named in full; the rest are counted. */
const MAX_NAMED = 2;

/** Removed and added lines of a patch, paired in order within each block of changes. */
function linePairs(patch: string): { pairs: Array<[string, string]>; unpaired: number } {
  const pairs: Array<[string, string]> = [];
  let unpaired = 0;
  let removed: string[] = [];
  let added: string[] = [];
  const close = () => {
    const n = Math.min(removed.length, added.length);
    for (let i = 0; i < n; i++) pairs.push([removed[i], added[i]]);
    unpaired += removed.length + added.length - 2 * n;
    removed = [];
    added = [];
  };
  for (const line of patch.split(/\r?\n/)) {
    if (line.startsWith('---') || line.startsWith('+++')) continue;
    if (line.startsWith('-')) {
      if (added.length > 0) close();
      removed.push(line.slice(1));
    } else if (line.startsWith('+')) {
      added.push(line.slice(1));
    } else {
      close();
    }
  }
  close();
  return { pairs, unpaired };
}

const isWordChar = (c: string | undefined) => c !== undefined && /[\w.$]/.test(c);

/** "fast 3 → 4" for `fast: 3,` -> `fast: 4,`: the differing token, named by the key before it. */
function valueChange(before: string, after: string): string | undefined {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let end = 0;
  while (end < before.length - start && end < after.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
  // Widen to whole tokens: 0.5 -> 0.6202 differs after "0.", but reads as the whole number.
  while (start > 0 && isWordChar(before[start - 1])) start--;
  while (end > 0 && isWordChar(before[before.length - end])) end--;
  const from = before.slice(start, before.length - end).trim();
  const to = after.slice(start, after.length - end).trim();
  if (from.length > MAX_VALUE_CHARS || to.length > MAX_VALUE_CHARS || (from === '' && to === '')) return undefined;
  const name = /([A-Za-z_$][\w$.]*)\s*[:=]\s*$/.exec(before.slice(0, start))?.[1];
  return `${name ? `${name} ` : ''}${from || '∅'} → ${to || '∅'}`;
}

/** The change a lesson made, as short as it can be said; its hypothesis's first line otherwise. */
export function changeSummary(lesson: Pick<Lesson, 'patch' | 'hypothesis'>): string {
  const { pairs, unpaired } = linePairs(lesson.patch ?? '');
  const values = pairs.map(([before, after]) => valueChange(before, after));
  if (values.length > 0 && unpaired === 0 && values.every((v) => v !== undefined)) {
    const named = values.slice(0, MAX_NAMED).join(', ');
    return values.length > MAX_NAMED ? `${named} +${values.length - MAX_NAMED} more` : named;
  }
  const first = lesson.hypothesis.split('\n')[0].replace(/ -> /g, ' → ');
  return first.length > MAX_HYPOTHESIS_CHARS ? `${first.slice(0, MAX_HYPOTHESIS_CHARS - 1)}…` : first;
}
