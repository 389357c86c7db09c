/**
 * Git history insight, in the runner: per-file churn, age and fix/revert frequency over the last N
 * commits of HEAD's first-parent line. First parents only: that is the line the workspace lived
 * through, a merge counting as one change (what it brought in), and it makes the history a simple
 * chain that a new HEAD extends at the front.
 *
 * Per-commit changed-file lists are what isomorphic-git is slow at (the history figures of `npm run bench`), so every
 * commit is diffed once and kept in `history.json` in the workspace's storage folder (outside the
 * workspace); a new HEAD walks back only to the newest commit already indexed. isomorphic-git is
 * imported by the first request that needs it, never at the runner's start-up, and never for a
 * workspace outside git.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../core/files';
import type { CommitObject, TreeEntry } from 'isomorphic-git';
import { CancelledError } from '../protocol/runner';
import { objectStoreFs } from './objectStoreFs';
import type { FileHistory, HistoryParams, HistoryResult } from '../protocol/runner';
import { workspaceStorage } from './sandbox';

type Git = typeof import('isomorphic-git');

/** isomorphic-git with the file system and git dir of one request. */
interface GitAccess {
  git: Git;
  fs: ReturnType<typeof objectStoreFs>;
  gitdir: string;
}

/** A commit message that marks a fix or a revert. */
const FIX_MESSAGE = /\b(fix|fixes|fixed|bug|revert|hotfix)\b/i;

export interface IndexedCommit {
  oid: string;
  /** First parent; absent on a root commit. */
  parent?: string;
  /** Committer time, seconds since the epoch. */
  time: number;
  kind: 'fix' | 'other';
  /** Repository-relative paths changed against the first parent. */
  files: string[];
}

export interface HistoryCache {
  v: 1;
  /** The repository's root: an index of another repository is not reused. */
  repo: string;
  head: string;
  /** Newest first, each the first parent of the one before. */
  commits: IndexedCommit[];
}

export const CACHE_FILE = 'history.json';
const DAY_MS = 86_400_000;

export async function history(params: HistoryParams, signal: AbortSignal): Promise<HistoryResult> {
  const started = performance.now();
  const result = (files: FileHistory[], commits: number, indexedNow: number): HistoryResult => ({
    files,
    commits,
    indexedNow,
    ms: Math.round(performance.now() - started),
  });
  const workspace = await nodeFs.promises.realpath(params.workspace);
  const repo = await findRepository(workspace);
  if (!repo) return result([], 0, 0);
  const git: Git = await import('isomorphic-git');
  const access: GitAccess = { git, fs: objectStoreFs(path.join(repo, '.git')), gitdir: path.join(repo, '.git') };
  const head = await git.resolveRef({ fs: access.fs, gitdir: access.gitdir, ref: 'HEAD' }).catch(() => undefined);
  if (!head) return result([], 0, 0); // a repository without commits yet

  const cacheFile = path.join(await workspaceStorage(params.storageRoot, workspace), CACHE_FILE);
  const cached = await readCache(cacheFile, repo);
  const indexer = new CommitIndexer(access, signal);
  const commits = await firstParentWindow(indexer, head, params.commits, cached?.commits ?? []);
  if (indexer.indexed > 0 || cached?.head !== head) await writeFileAtomic(cacheFile, JSON.stringify({ v: 1, repo, head, commits } satisfies HistoryCache));
  const prefix = toPosix(path.relative(repo, workspace));
  return result(fileStats(commits, prefix ? `${prefix}/` : '', params.paths), commits.length, indexer.indexed);
}

/** The repository holding the workspace: the nearest folder upwards with a `.git` (folder or file). */
async function findRepository(workspace: string): Promise<string | undefined> {
  for (let dir = workspace; ; dir = path.dirname(dir)) {
    if (await nodeFs.promises.access(path.join(dir, '.git')).then(() => true, () => false)) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * The newest `n` commits of the first-parent line from `head`. Commits already indexed are taken
 * from the cache (a chain, so from a known commit on the rest of the line is the cache's tail);
 * only the commits before it, and past the cache's end when `n` grew, are diffed.
 */
async function firstParentWindow(indexer: CommitIndexer, head: string, n: number, cached: IndexedCommit[]): Promise<IndexedCommit[]> {
  const position = new Map(cached.map((commit, index) => [commit.oid, index]));
  const commits: IndexedCommit[] = [];
  let next: string | undefined = head;
  while (next !== undefined && commits.length < n) {
    const at = position.get(next);
    if (at !== undefined) {
      commits.push(...cached.slice(at, at + n - commits.length));
    } else {
      const commit = await indexer.index(next);
      if (!commit) break; // beyond a shallow clone's boundary
      commits.push(commit);
    }
    next = commits[commits.length - 1]!.parent;
  }
  return commits;
}

/**
 * Diffs commits against their first parent with isomorphic-git, reading each object once per
 * request. Walking back, a tree is read as the parent side of the commit that replaced it, and
 * needed again, however many commits later, as the new side of the commit that created it: every
 * tree read is kept for the request (the window bounds how many).
 */
class CommitIndexer {
  /** Commits diffed so far. */
  indexed = 0;
  /** isomorphic-git's own cache: without it every object read parses the pack indexes again. */
  private readonly cache = {};
  private readonly trees = new Map<string, TreeEntry[]>();
  /** Walking back, a commit's parent is the next commit to index. */
  private lastParent: { oid: string; commit: CommitObject } | undefined;

  constructor(private readonly access: GitAccess, private readonly signal: AbortSignal) {}

  /** The commit with its changed files; undefined when it or its parent is not in the object store. */
  async index(oid: string): Promise<IndexedCommit | undefined> {
    if (this.signal.aborted) throw new CancelledError();
    const commit = this.lastParent?.oid === oid ? this.lastParent.commit : await this.readCommit(oid);
    if (!commit) return undefined;
    const parent = commit.parent[0];
    const parentCommit = parent === undefined ? undefined : await this.readCommit(parent);
    if (parent !== undefined && !parentCommit) return undefined;
    this.lastParent = parent === undefined ? undefined : { oid: parent, commit: parentCommit! };
    const files: string[] = [];
    await this.diff(parentCommit?.tree, commit.tree, '', files);
    this.indexed++;
    return {
      oid,
      ...(parent !== undefined && { parent }),
      time: commit.committer.timestamp,
      kind: FIX_MESSAGE.test(commit.message) ? 'fix' : 'other',
      files,
    };
  }

  private async readCommit(oid: string): Promise<CommitObject | undefined> {
    try {
      const { git, fs, gitdir } = this.access;
      return (await git.readCommit({ fs, gitdir, oid, cache: this.cache })).commit;
    } catch (error) {
      if ((error as { code?: string }).code === 'NotFoundError') return undefined;
      throw error;
    }
  }

  /** Paths of the files (and submodules) that differ; subtrees with equal ids are never read. */
  private async diff(before: string | undefined, after: string | undefined, prefix: string, out: string[]): Promise<void> {
    if (before === after) return;
    const older = new Map((await this.tree(before)).map((entry) => [entry.path, entry]));
    const newer = new Map((await this.tree(after)).map((entry) => [entry.path, entry]));
    const subtree = (entry: TreeEntry | undefined) => (entry?.type === 'tree' ? entry.oid : undefined);
    const isFile = (entry: TreeEntry | undefined) => entry !== undefined && entry.type !== 'tree';
    for (const name of new Set([...older.keys(), ...newer.keys()])) {
      const was = older.get(name);
      const is = newer.get(name);
      if (was && is && was.oid === is.oid && was.mode === is.mode) continue;
      if (subtree(was) || subtree(is)) await this.diff(subtree(was), subtree(is), `${prefix}${name}/`, out);
      if (isFile(was) || isFile(is)) out.push(prefix + name);
    }
  }

  private async tree(oid: string | undefined): Promise<TreeEntry[]> {
    if (oid === undefined) return [];
    let entries = this.trees.get(oid);
    if (!entries) {
      const { git, fs, gitdir } = this.access;
      entries = (await git.readTree({ fs, gitdir, oid, cache: this.cache })).tree;
      this.trees.set(oid, entries);
    }
    return entries;
  }
}

/** Per-file figures over the commits, for the files under `prefix` (the workspace inside the repository). */
function fileStats(commits: IndexedCommit[], prefix: string, paths?: string[]): FileHistory[] {
  const now = Date.now();
  const wanted = paths && new Set(paths);
  const stats = new Map<string, { churn: number; fixes: number; last: number; first: number }>();
  for (const commit of commits) {
    for (const file of commit.files) {
      if (!file.startsWith(prefix)) continue;
      const rel = file.slice(prefix.length);
      if (wanted && !wanted.has(rel)) continue;
      const s = stats.get(rel) ?? { churn: 0, fixes: 0, last: commit.time, first: commit.time };
      s.churn++;
      if (commit.kind === 'fix') s.fixes++;
      s.last = Math.max(s.last, commit.time);
      s.first = Math.min(s.first, commit.time);
      stats.set(rel, s);
    }
  }
  // Clamped at 0: a commit dated in the future (a skewed clock) is "today".
  const days = (seconds: number) => Math.max(0, Math.floor((now - seconds * 1000) / DAY_MS));
  return [...stats].map(([file, s]) => ({ path: file, churn: s.churn, fixes: s.fixes, lastChangedDays: days(s.last), firstSeenDays: days(s.first) }));
}

async function readCache(file: string, repo: string): Promise<HistoryCache | undefined> {
  try {
    const cache = JSON.parse(await nodeFs.promises.readFile(file, 'utf8')) as HistoryCache;
    return cache.v === 1 && cache.repo === repo && Array.isArray(cache.commits) ? cache : undefined;
  } catch {
    return undefined; // absent or unreadable: index afresh
  }
}

function toPosix(rel: string): string {
  return rel.split(path.sep).join('/');
}
