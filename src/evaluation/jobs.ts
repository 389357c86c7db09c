/**
 * What the coordinator (QueueEvaluator) and `rsi worker` agree on: the queue, the job's data and
 * result, the keys beside the queue, and how a redis:// URL becomes connection options.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { UserError, type WireError } from '../protocol/errors';
import type { EvaluationProgress, EvaluationRequest, EvaluationResult, GateRequest, GateResult, MeasureRequest, MeasureResult } from '../protocol/evaluation';

/** One queue for every rsi version: a worker of another version takes a job and refuses it, so both sides can say so. */
export const QUEUE_NAME = 'rsi-evaluations';
/** Prefix of the keys beside BullMQ's own: snapshot blobs and manifests, cancels. */
export const KEY_PREFIX = 'rsi';
/** A cancelled job's id is published here (to the worker running it) and kept as a key (for one that picks it up later). */
export const CANCEL_CHANNEL = `${KEY_PREFIX}:cancel`;
export const cancelledKey = (jobId: string) => `${KEY_PREFIX}:cancelled:${jobId}`;

export interface Requests {
  gate: { request: GateRequest; result: GateResult };
  measure: { request: MeasureRequest; result: MeasureResult };
  evaluate: { request: EvaluationRequest; result: EvaluationResult };
}
export type JobKind = keyof Requests;

export interface JobData<K extends JobKind = JobKind> {
  /** The coordinator's rsi version: a worker of another refuses the job. */
  version: string;
  kind: K;
  /** The manifest id of the workspace (snapshot.ts); the request's overlays apply on top of it. */
  snapshot: string;
  request: Requests[K]['request'];
  /** How the worker calibrates its own noise floor: A/A pairs, and the pairs its floor is taken at (`decisionPairs`); null: the config fixes the floor. */
  calibration: { pairs: number; decisionPairs: number } | null;
}

/** What a job returns. Errors travel as values: only a worker's death fails a job, and BullMQ retries it elsewhere. */
export type JobResult<K extends JobKind = JobKind> = { worker: string; result: Requests[K]['result'] } | { worker: string; error: WireError };

/** A job's progress as BullMQ carries it: the evaluator's event, from the worker named. */
export type JobProgress = EvaluationProgress & { worker: string };

/** A worker's name in Redis (CLIENT SETNAME allows no spaces): its rsi version, host and pid. */
export function workerName(version: string, host: string, pid: number): string {
  return `rsi-${version}/${host}:${pid}`.replace(/\s/g, '_');
}

/** The version and host:pid of a worker's name; undefined for one not named by workerName. */
export function parseWorkerName(name: string): { version: string; worker: string } | undefined {
  const match = /^rsi-([^/]+)\/(.+)$/.exec(name);
  return match ? { version: match[1]!, worker: match[2]! } : undefined;
}

/** Connection options from `redis://[user:password@]HOST[:PORT][/DB]` (or `rediss://` for TLS). */
export function connectionOptions(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`the queue must be a URL like redis://HOST:6379, not "${url}"`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new UserError(`the queue must be a redis:// or rediss:// URL, not "${url}"`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new UserError(`the queue URL's path must be a database number, not "${db}"`);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: db ? Number(db) : undefined,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    connectTimeout: 5000,
  };
}

/**
 * A connection to the queue's Redis, or a user error at once when it cannot be made. Once made,
 * a worker reconnects for as long as it takes; a coordinator, which must not hang, tries for ~20 s,
 * and its commands fail rather than wait while it is disconnected.
 */
export async function connectRedis(url: string, role: 'coordinator' | 'worker'): Promise<Redis> {
  let connected = false;
  const worker = role === 'worker';
  const redis = new Redis({
    ...connectionOptions(url),
    lazyConnect: true,
    maxRetriesPerRequest: worker ? null : 1,
    enableOfflineQueue: worker,
    retryStrategy: (times) => (!connected ? null : worker ? Math.min(times * 500, 5000) : times <= 10 ? Math.min(times * 500, 3000) : null),
  });
  // The socket's error says why (ECONNREFUSED, ENOTFOUND, a wrong password); the rejection only
  // that the connection closed. Later errors are each command's to report.
  let why: unknown;
  redis.on('error', (error) => (why ??= error));
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw unreachable(url, why ?? error);
  }
  connected = true;
  return redis;
}

/** The sentence for a Redis that cannot be reached. */
export function unreachable(url: string, error: unknown): UserError {
  const why = (error as Error)?.message ?? String(error);
  return new UserError(`cannot reach the queue's Redis at ${url} (${why}): start it, or check the URL`);
}
