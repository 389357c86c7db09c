import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { applyPatch, createTwoFilesPatch, FILE_HEADERS_ONLY, parsePatch, type StructuredPatch } from 'diff';
import picomatch from 'picomatch';
import type { Edit, Proposal } from './proposers/types';

/** One file's content before and after a candidate; null = the file does not exist on that side. */
export interface FileChange {
  path: string;
  before: string | null;
  after: string | null;
}

/** A proposal that passed validation: every path safe, every edit applied. */
export interface Candidate {
  hypothesis: string;
  changes: FileChange[];
  /** Unified diff against the baseline, the lesson's record of what was tried. */
  patch: string;
  /** Identifies the files the candidate produces: the same text on another baseline is another experiment. */
  patchHash: string;
  proposal: Proposal;
}

export type Validation =
  | { ok: true; candidate: Candidate }
  | { ok: false; reason: string; files: string[]; patch: string };

export interface ValidationScope {
  workspace: string;
  targets: string[];
  protected: string[];
  /** The baseline's content of a workspace-relative file (kept winners included); null when absent. */
  readBase(relativePath: string): Promise<string | null>;
}

/** Why a proposed path cannot be a file of the workspace, by the error reading it gave. */
const UNREADABLE: Record<string, string> = {
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'lies under a path that is a file, not a folder',
  ENAMETOOLONG: 'is too long a path',
  EACCES: 'cannot be read (permission denied)',
};

/** Never editable, whatever the config says: the loop's own memory and git's. */
const ALWAYS_PROTECTED = ['.rsi/**', '.git/**'];

/**
 * Checks a proposal and turns it into concrete file contents. Every reason for refusal is a
 * sentence for the `invalid` lesson's detail.
 */
export async function validateProposal(proposal: Proposal, scope: ValidationScope): Promise<Validation> {
  const files = [...new Set(proposal.edits.map((e) => e.path))];
  const refuse = (reason: string, patch = ''): Validation => ({ ok: false, reason, files, patch });
  if (proposal.error) return refuse(proposal.error);
  if (proposal.edits.length === 0) return refuse('the proposal contains no edit');

  const { isTarget, isProtected } = pathRules(scope);
  const contents = new Map<string, { before: string | null; after: string | null }>();
  for (const edit of proposal.edits) {
    const rel = normalizeRelative(edit.path);
    if (rel === undefined) return refuse(`${JSON.stringify(edit.path)} is outside the workspace`);
    if (rel.endsWith('/')) return refuse(`${JSON.stringify(edit.path)} names a folder, not a file`);
    if (rel.split('/').includes('node_modules')) {
      return refuse(`${rel} is inside node_modules, which the sandboxes share with your workspace: vendor the dependency into the workspace to change it`);
    }
    if (isProtected(rel)) return refuse(`${rel} is protected`);
    if (!isTarget(rel)) return refuse(`${rel} is not in the targets (${scope.targets.join(', ')})`);
    if (!(await staysInside(scope.workspace, rel))) return refuse(`${rel} leads outside the workspace through a symbolic link`);

    let entry = contents.get(rel);
    if (!entry) {
      let before: string | null;
      try {
        before = await scope.readBase(rel);
      } catch (err) {
        const why = UNREADABLE[(err as NodeJS.ErrnoException).code ?? ''];
        if (why) return refuse(`${rel} ${why}`);
        throw err;
      }
      entry = { before, after: before };
      contents.set(rel, entry);
    }
    const applied = applyEdit(entry.after, edit, rel);
    if (applied !== null && typeof applied === 'object') return refuse(applied.error);
    entry.after = applied;
  }

  const changes = [...contents].map(([p, c]): FileChange => ({ path: p, ...c })).filter((c) => c.before !== c.after);
  if (changes.length === 0) return refuse('the proposal changes nothing');
  const patch = unifiedDiff(changes);
  return { ok: true, candidate: { hypothesis: proposal.hypothesis, changes, patch, patchHash: hashChanges(changes), proposal } };
}

/**
 * Matchers of the paths a candidate may change (targets) and may never change (protected: the
 * config's, and always .rsi/ and .git/, which isLoopOwn matches alone).
 */
export function pathRules(scope: { targets: string[]; protected: string[] }) {
  return {
    isTarget: picomatch(scope.targets, { dot: true }),
    isProtected: picomatch([...ALWAYS_PROTECTED, ...scope.protected], { dot: true }),
    isLoopOwn: picomatch(ALWAYS_PROTECTED, { dot: true }),
  };
}

function applyEdit(current: string | null, edit: Edit, rel: string): string | null | { error: string } {
  switch (edit.kind) {
    case 'delete':
      return current === null ? { error: `${rel} is deleted, but it does not exist` } : null;
    case 'file':
      return edit.content;
    case 'patch': {
      // A model's patch may not even parse (jsdiff throws on miscounted hunks): a reason, not a crash.
      let parsed: StructuredPatch[];
      try {
        parsed = parsePatch(edit.patch);
      } catch (err) {
        return { error: `the patch for ${rel} cannot be read: ${(err as Error).message}` };
      }
      if (parsed.length !== 1) return { error: `the patch for ${rel} must hold exactly one file, not ${parsed.length}` };
      if (parsed[0]!.oldFileName === '/dev/null' && current !== null) return { error: `the patch creates ${rel}, which already exists` };
      const result = applyPatch(current ?? '', parsed[0]!);
      return result === false ? { error: `the patch does not apply to the current ${rel}` } : result;
    }
    case 'replace': {
      // An empty SEARCH creates a file (the SEARCH/REPLACE convention); anywhere else it would be ambiguous.
      if (edit.search === '') return current === null ? edit.replace : { error: `an empty SEARCH only creates a new file, and ${rel} exists` };
      if (current === null) return { error: `${rel} does not exist, so there is nothing to replace in it` };
      const at = current.indexOf(edit.search);
      if (at < 0) return { error: `the text to replace was not found in ${rel}` };
      if (current.indexOf(edit.search, at + 1) >= 0) return { error: `the text to replace occurs more than once in ${rel}` };
      return current.slice(0, at) + edit.replace + current.slice(at + edit.search.length);
    }
  }
}

/** A workspace-relative POSIX path, or undefined when the path is absolute or climbs out. */
export function normalizeRelative(p: string): string | undefined {
  if (p === '' || p.includes('\0') || path.isAbsolute(p) || path.win32.isAbsolute(p)) return undefined;
  const normalized = path.posix.normalize(p.replace(/\\/g, '/'));
  if (normalized === '..' || normalized.startsWith('../') || normalized === '.') return undefined;
  return normalized.replace(/^\.\//, '');
}

/** True when the deepest existing part of the path resolves inside the workspace. */
async function staysInside(workspace: string, rel: string): Promise<boolean> {
  const root = await fs.realpath(workspace);
  let probe = path.join(root, rel);
  for (;;) {
    try {
      const real = await fs.realpath(probe);
      return real === root || real.startsWith(root + path.sep);
    } catch {
      const parent = path.dirname(probe);
      if (parent === probe) return false;
      probe = parent;
    }
  }
}

/** The diff of several files, in path order so the same change always hashes the same. */
export function unifiedDiff(changes: FileChange[]): string {
  return [...changes]
    .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
    .map((c) =>
      createTwoFilesPatch(
        c.before === null ? '/dev/null' : `a/${c.path}`,
        c.after === null ? '/dev/null' : `b/${c.path}`,
        c.before ?? '',
        c.after ?? '',
        undefined,
        undefined,
        { headerOptions: FILE_HEADERS_ONLY },
      ),
    )
    .join('');
}

/** A hash of what the changed files become (a patch's context lines alone miss a changed baseline). */
export function hashChanges(changes: FileChange[]): string {
  const hash = createHash('sha256');
  for (const c of [...changes].sort((x, y) => (x.path < y.path ? -1 : 1))) hash.update(`${c.path}\0${c.after ?? '\0deleted'}\0`);
  return hash.digest('hex').slice(0, 16);
}
