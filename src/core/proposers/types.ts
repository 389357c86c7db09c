import type { Direction, Lesson } from '../lessons';

/** One change to one file, in whichever form the proposer produced it. */
export type Edit =
  /** The file's whole new content. */
  | { kind: 'file'; path: string; content: string }
  /** A unified diff of this one file. */
  | { kind: 'patch'; path: string; patch: string }
  /** Replace the one occurrence of `search` with `replace`. */
  | { kind: 'replace'; path: string; search: string; replace: string };

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
  /** Lesson ids of the kept candidates this one combines (the cycle's co-winners). */
  parents?: string[];
}

export interface ProposeContext {
  /** Workspace-relative paths (POSIX separators) of the files the proposer may change. */
  targetFiles: string[];
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
