// Which winner a hunk of the accumulated proposal comes from, so its CodeLens shows that winner's
// evidence and the user's verdict lands on the right lesson. No vscode import.
import type { Lesson } from '../../core/lessons';
import type { Hunk } from './hunks';

/** The lines a patch adds and removes, per file (workspace-relative path). */
interface PatchLines {
  added: Set<string>;
  removed: Set<string>;
}

function linesByFile(patch: string): Map<string, PatchLines> {
  const files = new Map<string, PatchLines>();
  let current: PatchLines | undefined;
  const lines = patch.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('--- ') && lines[i + 1]?.startsWith('+++ ')) {
      const path = headerPath(lines[i + 1]) ?? headerPath(line);
      current = { added: new Set(), removed: new Set() };
      if (path) files.set(path, current);
      i++;
    } else if (current && line.startsWith('+')) {
      current.added.add(line.slice(1));
    } else if (current && line.startsWith('-')) {
      current.removed.add(line.slice(1));
    }
  }
  return files;
}

/** `+++ b/src/x.js` -> `src/x.js`; undefined for /dev/null. */
function headerPath(header: string): string | undefined {
  const name = header.slice(4).split('\t')[0].trim();
  if (name === '/dev/null') return undefined;
  return name.replace(/^[ab]\//, '');
}

/**
 * The latest lesson whose patch wrote one of the hunk's new lines (or, for a pure deletion,
 * removed one of its old lines); failing that, the latest lesson that touched the file.
 * `lessons` are oldest first, as the proposal lists them.
 */
export function attributeHunk(hunk: Hunk, file: string, lessons: Lesson[]): Lesson | undefined {
  const newest = [...lessons].reverse();
  const byWrittenLine = newest.find((lesson) => {
    const lines = linesByFile(lesson.patch).get(file);
    if (!lines) return false;
    return hunk.newLines.length > 0 ? hunk.newLines.some((l) => lines.added.has(l)) : hunk.oldLines.some((l) => lines.removed.has(l));
  });
  return byWrittenLine ?? newest.find((lesson) => lesson.files.includes(file));
}
