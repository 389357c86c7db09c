import type { Direction, Lesson } from '../lessons';

/** One change to one file, in whichever form the proposer produced it. */
export type Edit =
  /** The file's whole new content. */
  | { kind: 'file'; path: string; content: string }
  /** A unified diff of this one file. */
  | { kind: 'patch'; path: string; patch: string }
  /** Replace the one occurrence of `search` with `replace`. */
  | { kind: 'replace'; path: string; search: string; replace: string }
  /** The file is removed (a coding agent deleted it in its working copy). */
  | { kind: 'delete'; path: string };

/** A candidate as proposed, before validation. */
export interface Proposal {
  hypothesis: string;
  edits: Edit[];
  /** Set when the proposer's output could not be turned into edits: the candidate becomes `invalid`. */
  error?: string;
  /** Raw proposer output, kept (capped) in the lesson when the candidate is invalid. */
  raw?: string;
  seed?: number;
  params?: Record<string, number>;
  /** Said in the lesson's detail, whatever the outcome: e.g. an agent's edits outside the targets that were dropped. */
  note?: string;
  /** Lesson ids of the kept candidates this one combines (the cycle's co-winners). */
  parents?: string[];
}

export interface ProposeContext {
  /** Workspace-relative paths (POSIX separators) of the files the proposer may change. */
  targetFiles: string[];
  /** The config's target and protected globs: what a proposer's edits may touch, and never. */
  scope: { targets: string[]; protected: string[] };
  /** Reads a workspace-relative file as the cycle's baseline sees it (kept winners included). */
  readFile(relativePath: string): Promise<string>;
  /** How many candidates to propose. */
  count: number;
  cycle: number;
  /** Seed for this cycle's proposals: the same seed and the same lessons give the same proposals. */
  seed: number;
  /** Every lesson so far, oldest first. */
  lessons: Lesson[];
  /** Verdicts of the user by lesson id. */
  verdicts: Map<string, 'accepted' | 'rejected'>;
  metric: { name: string; direction: Direction };
  signal: AbortSignal;
  /**
   * The context memory as text (goal, target files, lessons digest, git insight), what a model
   * proposer is told. Built on the first call only: the tuner never pays for it.
   */
  prompt(): Promise<string>;
  /** Progress and diagnostics for the log. */
  log(message: string): void;
}

export interface Proposer {
  readonly name: string;
  propose(context: ProposeContext): Promise<Proposal[]>;
}

/**
 * A folder holding a copy of the workspace, where a coding agent works and edits files. The caller
 * builds it (core copies no trees): in the CLI and the editor, runner/agentCopy.ts.
 */
export interface WorkingCopy {
  /**
   * Make the folder the baseline: the workspace (without .rsi/) with `overlay` written over it (the
   * kept winners' files); what an earlier agent left there is gone. Resolves to the folder's path.
   */
  reset(overlay: Record<string, string>): Promise<string>;
  /** What changed in the folder since the reset, against the baseline; the folder is then put back to it. */
  takeChanges(): Promise<CopyChange[]>;
}

/** One workspace-relative path (POSIX) an agent changed in its working copy. */
export type CopyChange =
  /** Written (content) or deleted (null). */
  | { path: string; content: Buffer | null }
  /** Not taken: the reason (a symbolic link, too large). */
  | { path: string; skipped: string };
