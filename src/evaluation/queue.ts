/**
 * The Evaluator port over Redis: each request becomes one BullMQ job that one `rsi worker` runs
 * whole (worker.ts). Requests made together wait in the queue together and spread over the
 * workers. A job whose worker dies is given to another (attempts, stalled-job checks); a cancelled
 * request removes its job, or tells the worker running it to stop.
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CancelledError, fromWire, UserError } from '../protocol/errors';
import { CANCEL_CHANNEL, cancelledKey, connectRedis, KEY_PREFIX, parseWorkerName, QUEUE_NAME, type JobData, type JobKind, type JobProgress, type JobResult, type Requests } from './jobs';
import { decisionPairs } from '../core/calibration';
import type { RsiConfig } from '../core/config';
import type { Evaluator } from '../core/evaluator';
import type { EvaluationOptions } from '../protocol/evaluation';
import { SnapshotMissingError, SnapshotUploader } from './snapshot';

/** How often the coordinator looks for listening workers while it has jobs out. */
const WORKER_CHECK_MS = 2000;
/** A job that failed this many times (its worker died or stopped each time) is given up. */
const ATTEMPTS = 3;

export interface QueueEvaluatorOptions {
  url: string;
  workspace: string;
  version: string;
  /** A/A pairs each worker measures its own noise floor with, and the pairs the floor is taken at; null: the config fixes the floor. */
  calibration: { pairs: number; decisionPairs: number } | null;
  /** With jobs out and no worker of this version listening for this long, the requests fail. */
  noWorkerTimeoutMs: number;
}

/** What a workspace's config asks of the queue (the CLI and the editor alike). */
export function queueOptions(url: string, workspace: string, config: RsiConfig, version: string): QueueEvaluatorOptions {
  return {
    url,
    workspace,
    version,
    calibration: config.noise.floor === null ? { pairs: config.noise.calibrationRuns, decisionPairs: decisionPairs(config.sampling) } : null,
    noWorkerTimeoutMs: config.evaluation.waitForWorkersSeconds * 1000,
  };
}

interface Pending {
  job: Job<JobData, JobResult>;
  onProgress?: EvaluationOptions['onProgress'];
  reject(error: Error): void;
}

/** The connections of one run: made on the first request, closed by release(). */
interface Connection {
  redis: Redis;
  queue: Queue<JobData, JobResult>;
  events: QueueEvents;
}

export class QueueEvaluator implements Evaluator {
  private readonly pending = new Map<string, Pending>();
  /** Cancels still being sent: release() waits for them before closing the connection. */
  private readonly cancelling = new Set<Promise<void>>();
  private readonly snapshots: SnapshotUploader;
  private snapshotting: Promise<string> | undefined;
  private epochSnapshot: { epoch: string; id: Promise<string> } | undefined;
  private connection: Promise<Connection> | undefined;
  private workerCheck: NodeJS.Timeout | undefined;
  /** Since when no worker of this version has listened, while jobs were out. */
  private unservedSince: number | undefined;

  constructor(private readonly options: QueueEvaluatorOptions) {
    this.snapshots = new SnapshotUploader(KEY_PREFIX, options.workspace);
  }

  /** An evaluator already connected, or one sentence at once when Redis cannot be reached. */
  static async connect(options: QueueEvaluatorOptions): Promise<QueueEvaluator> {
    const evaluator = new QueueEvaluator(options);
    await evaluator.connected();
    return evaluator;
  }

  private connected(): Promise<Connection> {
    this.connection ??= (async () => {
      const redis = await connectRedis(this.options.url, 'coordinator');
      const queue = new Queue<JobData, JobResult>(QUEUE_NAME, { connection: redis });
      const events = new QueueEvents(QUEUE_NAME, { connection: redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true }) });
      queue.on('error', () => {}); // requests fail with the error itself
      events.on('error', () => {});
      events.on('progress', ({ jobId, data }) => this.pending.get(jobId)?.onProgress?.(data as JobProgress));
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      return { redis, queue, events };
    })();
    // A failed connection is not kept: the next request tries again.
    this.connection.catch(() => (this.connection = undefined));
    return this.connection;
  }

  gate(request: Requests['gate']['request'], options?: EvaluationOptions) {
    return this.run('gate', request, options);
  }

  measure(request: Requests['measure']['request'], options?: EvaluationOptions) {
    return this.run('measure', request, options);
  }

  evaluate(request: Requests['evaluate']['request'], options?: EvaluationOptions) {
    return this.run('evaluate', request, options);
  }

  /** Cancels what is still out, then closes the connections (the next request connects again). */
  async release(): Promise<void> {
    for (const id of this.pending.keys()) this.cancel(id);
    await Promise.all(this.cancelling);
    this.stopWorkerCheck();
    const connection = await this.connection?.catch(() => undefined);
    this.connection = undefined;
    if (!connection) return;
    await Promise.allSettled([connection.events.close(), connection.queue.close()]);
    connection.redis.disconnect();
  }

  private async run<K extends JobKind>(kind: K, request: Requests[K]['request'], options: EvaluationOptions = {}): Promise<Requests[K]['result']> {
    const { signal } = options;
    if (signal?.aborted) throw new CancelledError();
    for (let uploadedAgain = false; ; uploadedAgain = true) {
      const { redis } = await this.connected();
      // Uploaded again: the same files, checked blob by blob.
      const snapshot = await this.snapshot(redis, uploadedAgain ? undefined : request.epoch);
      const out = await this.once(kind, { version: this.options.version, kind, snapshot, request, calibration: this.options.calibration }, options);
      if ('result' in out) return out.result as Requests[K]['result'];
      // The snapshot expired or was evicted from Redis between upload and job: upload it again, once.
      if (out.error.message.startsWith(SnapshotMissingError.marker) && !uploadedAgain) {
        this.snapshots.forgetUploads();
        continue;
      }
      const error = fromWire(out.error);
      if (out.error.kind === 'user') error.message = error.message.replace(SnapshotMissingError.marker, `worker ${out.worker}: `);
      throw error;
    }
  }

  /**
   * The workspace's snapshot for a request: taken once per epoch (a cycle's requests see the files
   * as its first request found them), and once for requests made together.
   */
  private snapshot(redis: Redis, epoch: string | undefined): Promise<string> {
    if (epoch !== undefined && this.epochSnapshot?.epoch === epoch) return this.epochSnapshot.id;
    this.snapshotting ??= this.snapshots.snapshot(redis).finally(() => (this.snapshotting = undefined));
    const id = this.snapshotting;
    if (epoch !== undefined) {
      this.epochSnapshot = { epoch, id };
      id.catch(() => this.epochSnapshot?.id === id && (this.epochSnapshot = undefined)); // the next request tries again
    }
    return id;
  }

  private async once<K extends JobKind>(kind: K, data: JobData<K>, options: EvaluationOptions): Promise<JobResult<K>> {
    const { queue, events } = await this.connected();
    const job = await queue.add(kind, data as JobData, {
      attempts: ATTEMPTS,
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    });
    const id = job.id!;
    return new Promise<JobResult<K>>((resolve, reject) => {
      const onAbort = () => this.cancel(id);
      const settle = () => {
        this.pending.delete(id);
        options.signal?.removeEventListener('abort', onAbort);
        if (this.pending.size === 0) this.stopWorkerCheck();
      };
      this.pending.set(id, { job, onProgress: options.onProgress, reject: (error) => (settle(), reject(error)) });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) onAbort(); // while the job was being added
      this.startWorkerCheck();
      job.waitUntilFinished(events).then(
        (out: JobResult) => (settle(), resolve(out as JobResult<K>)),
        (error: Error) => {
          if (!this.pending.has(id)) return; // already settled: cancelled, or no worker
          settle();
          reject(new UserError(`the queue gave up on a ${kind} request after ${ATTEMPTS} attempts: ${error.message}`));
        },
      );
    });
  }

  /** Ends the request as cancelled at once, then removes its job if still queued, and tells any worker running it to stop. */
  private cancel(id: string): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    pending.reject(new CancelledError());
    const sent = (async () => {
      // Queued: removed. Taken (locked): the remove fails, and the worker is told. Told in any case:
      // a worker whose lock lapsed under load may still run a job the queue shows as waiting.
      await pending.job.remove().catch(() => undefined);
      const { redis } = await this.connected();
      await redis.set(cancelledKey(id), '1', 'EX', 24 * 3600).catch(() => undefined);
      await redis.publish(CANCEL_CHANNEL, id).catch(() => undefined);
    })();
    this.cancelling.add(sent);
    void sent.finally(() => this.cancelling.delete(sent));
  }

  private startWorkerCheck(): void {
    this.workerCheck ??= setInterval(() => void this.checkWorkers(), WORKER_CHECK_MS);
  }

  private stopWorkerCheck(): void {
    clearInterval(this.workerCheck);
    this.workerCheck = undefined;
    this.unservedSince = undefined;
  }

  /** With jobs out, are workers of this version listening? Long enough without any, every request fails with why. */
  private async checkWorkers(): Promise<void> {
    const { version, url, noWorkerTimeoutMs } = this.options;
    const workers = await this.connection?.then(({ queue }) => queue.getWorkers()).catch(() => undefined);
    if (!workers) return; // this Redis does not list its clients: no check
    const named = workers.map((w) => parseWorkerName(String(w.rawname ?? '').split(':w:')[1] ?? ''));
    if (named.some((w) => w?.version === version)) {
      this.unservedSince = undefined;
      return;
    }
    this.unservedSince ??= Date.now();
    if (Date.now() - this.unservedSince < noWorkerTimeoutMs) return;
    const others = named.filter((w) => w !== undefined);
    const seconds = Math.round(noWorkerTimeoutMs / 1000);
    const message =
      others.length > 0
        ? `the workers on ${url} run another rsi version (${others.map((w) => `${w.worker} runs ${w.version}`).join(', ')}) and this cycle runs ${version}: run the same version on both`
        : `no rsi worker has listened on ${url} for ${seconds} s: start one with \`rsi worker --queue ${url}\``;
    for (const id of [...this.pending.keys()]) {
      const pending = this.pending.get(id)!;
      pending.reject(new UserError(message));
      await pending.job.remove().catch(() => undefined);
    }
  }
}
