// Excerpts of command output for messages and lessons (pure: the runner uses it too).

/** At most `max` characters, an ellipsis marking a cut. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The first `count` non-blank lines, at most 2000 characters. */
export function firstLines(text: string, count = 12): string {
  const kept = text.split('\n').filter((l) => l.trim() !== '').slice(0, count).join('\n');
  return kept.length > 2000 ? `${kept.slice(0, 2000)}...` : kept;
}

const FAILURE_LINE = /\b(not ok|fail(ed|ure|s)?|error|assert\w*|expected|exception|panic)\b|✖|✗/i;

/**
 * The first lines of a failing command's output, the lines that say what failed first: a test
 * runner prints many passing tests before the one that broke, and the lesson must show that one.
 */
export function failureExcerpt(text: string, count = 20): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const failing = lines.filter((l) => FAILURE_LINE.test(l));
  return firstLines([...failing, ...lines.filter((l) => !FAILURE_LINE.test(l))].join('\n'), count);
}
