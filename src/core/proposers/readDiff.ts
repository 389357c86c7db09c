import type { Edit } from './types';
import { clip } from '../text';

/**
 * Reads a unified diff as a model writes it, into one 'patch' edit per file with hunks that jsdiff
 * accepts: models miscount hunk lines, drop the space of blank context lines and leave out line
 * numbers, so the hunks are re-counted from their bodies and their headers rewritten. Where the
 * lines go is found by content when the patch is applied (patch.ts), not by the numbers.
 */
export interface DiffReading {
  edits: Edit[];
  problems: string[];
  /** Index of the first line not read: in bare mode, where the prose after the diff begins. */
  end: number;
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
/** Git's extended header lines, between `diff --git` and `---`. */
const GIT_META = /^(?:diff --git |index [0-9a-f]|(?:new|deleted) file mode |old mode |new mode |(?:dis)?similarity index |rename (?:from|to) |copy (?:from|to) |Binary files )/;
const UNSUPPORTED_META = /^(?:rename (?:from|to) |copy (?:from|to) |Binary files )/;

/** True where a unified diff starts: `diff --git`, or a `---` line followed by a `+++` line. */
export function startsDiff(lines: readonly string[], i: number): boolean {
  return lines[i]!.startsWith('diff --git ') || (lines[i]!.startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ '));
}

/**
 * @param first 1-based line number of lines[0] in the answer, for the problems.
 * @param fallbackPath the file of hunks without ---/+++ headers (a path named just before the block).
 * @param bare outside a fenced block: stop at the first line that is not part of the diff.
 */
export function readUnifiedDiff(lines: readonly string[], first: number, fallbackPath?: string, bare = false): DiffReading {
  const files = new Map<string, { creates: boolean; hunks: string[] }>();
  const problems: string[] = [];
  let file: { path: string; creates: boolean } | undefined;
  let fileProblem = false;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const where = `line ${first + i}`;
    if (GIT_META.test(line)) {
      if (UNSUPPORTED_META.test(line)) problems.push(`${where}: "${line}": only changes to the content of files are supported`);
      i++;
    } else if (startsDiff(lines, i) && line.startsWith('--- ')) {
      const header = fileHeader(line.slice(4), lines[i + 1]!.slice(4));
      fileProblem = typeof header === 'string';
      if (typeof header === 'string') problems.push(`${where}: ${header}`);
      else file = header;
      i += 2;
    } else if (line.startsWith('@@')) {
      const hunk = readHunk(lines, i);
      i = hunk.end;
      if (fileProblem) continue; // its file was refused at its header
      const target = file ?? (fallbackPath === undefined ? undefined : { path: fallbackPath, creates: false });
      if (!target) problems.push(`${where}: a hunk without ---/+++ lines naming its file`);
      else if (hunk.text === undefined) problems.push(`${where}: an empty hunk`);
      else {
        const entry = files.get(target.path) ?? { creates: target.creates, hunks: [] };
        entry.hunks.push(hunk.text);
        files.set(target.path, entry);
      }
    } else if (line.trim() === '') {
      i++;
    } else if (bare) {
      break;
    } else {
      problems.push(`${where}: "${clip(line, 60)}" is not part of a unified diff`);
      break;
    }
  }
  if (problems.length === 0 && files.size === 0) problems.push(`line ${first}: a diff without any @@ hunk`);
  const edits: Edit[] = [...files].map(([path, { creates, hunks }]) => ({
    kind: 'patch',
    path,
    patch: `--- ${creates ? '/dev/null' : `a/${path}`}\n+++ b/${path}\n${hunks.join('')}`,
  }));
  return { edits, problems, end: i };
}

/** The file a ---/+++ pair names, or why it cannot be applied. Git's a/ and b/ prefixes are dropped. */
function fileHeader(oldField: string, newField: string): { path: string; creates: boolean } | string {
  let from = headerPath(oldField);
  let to = headerPath(newField);
  if (to.startsWith('b/') && (from.startsWith('a/') || from === '/dev/null')) {
    to = to.slice(2);
    if (from !== '/dev/null') from = from.slice(2);
  }
  if (to === '/dev/null') return `deleting ${from.replace(/^a\//, '')} is not supported`;
  if (from !== '/dev/null' && from !== to) return `renaming ${from} to ${to} is not supported`;
  return { path: to, creates: from === '/dev/null' };
}

/** The path of a header line: before any tab (a timestamp follows it), unquoted when git quoted it. */
function headerPath(field: string): string {
  const text = field.split('\t')[0]!.trim();
  if (!/^".*"$/.test(text)) return text;
  try {
    return JSON.parse(text) as string;
  } catch {
    return text;
  }
}

/** One hunk from its @@ line: its text with a header counted from its body, and the index after it. */
function readHunk(lines: readonly string[], at: number): { text?: string; end: number } {
  const numbers = HUNK_HEADER.exec(lines[at]!);
  const body: string[] = [];
  for (let j = at + 1; j < lines.length; j++) {
    const line = lines[j]!;
    if (line.startsWith('@@') || startsDiff(lines, j)) break;
    if (line === '') body.push(' '); // a blank context line whose leading space was lost
    else if (/^[ +\-\\]/.test(line)) body.push(line);
    else break;
  }
  // Trailing empty lines may be what separates the hunk from what follows; as context they only
  // narrow where the hunk applies, so dropping them never changes what it does.
  while (body.length > 0 && lines[at + body.length] === '') body.pop();
  const count = (ops: string) => body.filter((l) => ops.includes(l[0]!)).length;
  const end = at + 1 + body.length;
  if (!body.some((l) => l[0] !== '\\')) return { end };
  const [oldLines, newLines] = [count(' -'), count(' +')];
  // Without numbers the search for where the hunk applies starts at the top of the file.
  const oldStart = numbers ? Number(numbers[1]) : oldLines === 0 ? 0 : 1;
  const newStart = numbers ? Number(numbers[3]) : newLines === 0 ? 0 : 1;
  return { text: `@@ -${oldStart},${oldLines} +${newStart},${newLines} @@\n${body.join('\n')}\n`, end };
}

