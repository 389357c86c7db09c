/**
 * `rsi worker --queue URL`: serves evaluation jobs from Redis with a BullMQ Worker, one job at a
 * time. A job is one request (gate, measure or evaluate) run whole here, so an A/B comparison never
 * mixes hosts: the snapshot is materialized in this worker's storage and a local evaluator runs the
 * request on it. Every error returns to the coordinator as a value with its kind; a job fails
 * (and BullMQ gives it to another worker) only when this worker stops or dies under it.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { floorOf } from '../core/calibration';
import { errorKind, toWire, type WireError } from '../protocol/errors';
import { CANCEL_CHANNEL, cancelledKey, connectRedis, KEY_PREFIX, QUEUE_NAME, workerName, type JobData, type JobProgress, type JobResult, type Requests } from './jobs';
import type { Evaluator } from '../core/evaluator';
import type { EvaluationOptions, EvaluationProgress, EvaluationRequest, MeasureResult } from '../protocol/evaluation';
import { SnapshotStore } from './snapshot';

/**
 * A killed worker's job is given to another once its lock expires (lockDuration) and a live
 * worker's stalled check (every stalledInterval) sees it: within ~15 s. A live worker renews its
 * lock every lockDuration / 2; its event loop stays free (the runner is a process of its own).
 */
const LOCK_DURATION_MS = 10_000;
const STALLED_INTERVAL_MS = 5_000;

export interface WorkerOptions {
  url: string;
  version: string;
  /**
   * The workers' folder on this machine: the blob cache and the calibrations, shared by its workers,
   * and a folder per worker process (its pid) for its workspaces and sandboxes, removed when it stops.
   */
  storage: string;
  host: string;
  /** A local evaluator over a materialized workspace, its sandboxes under `sandboxRoot` (one at a time: the previous is released first). */
  localEvaluator(workspace: string, sandboxRoot: string): Evaluator;
  log(line: string): void;
  /** Stops serving: an active job is put back for another worker. */
  signal: AbortSignal;
}

/** A calibrated floor, per metric command and snapshot. */
interface Calibrations {
  [key: string]: { floor: number; pairs: number; time: string };
}

/** Serves jobs until the signal aborts; rejects with a user error when Redis cannot be reached at the start. */
export async function serveQueue(options: WorkerOptions): Promise<void> {
  const { url, version, log } = options;
  const redis = await connectRedis(url, 'worker');
  const own = path.join(options.storage, String(process.pid));
  await removeLeftovers(options.storage);
  await fs.mkdir(own, { recursive: true });
  const name = workerName(version, options.host, process.pid);
  const me = name.slice(name.indexOf('/') + 1);
  const handler = new JobHandler(options, me, redis, own);
  const worker = new Worker<JobData, JobResult>(QUEUE_NAME, (job, _token, signal) => handler.run(job, signal!), {
    connection: redis,
    concurrency: 1,
    name,
    lockDuration: LOCK_DURATION_MS,
    stalledInterval: STALLED_INTERVAL_MS,
    maxStalledCount: 2,
    autorun: false,
  });
  worker.on('error', (error) => log(`redis: ${error.message}`));
  const subscriber = redis.duplicate();
  await subscriber.subscribe(CANCEL_CHANNEL);
  subscriber.on('message', (_channel, jobId: string) => {
    if (worker.cancelJob(jobId, 'cancelled')) log(`job ${jobId}: cancelled by its coordinator`);
  });
  const stop = () => {
    log('stopping (a job in hand goes back to the queue, for another worker)');
    handler.stopping = true;
    worker.cancelAllJobs('worker stopping');
    void worker.close(); // ends run() once the job in hand has given up
  };
  if (options.signal.aborted) stop();
  else options.signal.addEventListener('abort', stop, { once: true });

  log(`worker ${me} serving rsi ${version} evaluations from ${url}`);
  try {
    await worker.run();
  } finally {
    subscriber.disconnect();
    await worker.close();
    await handler.release();
    redis.disconnect();
    await fs.rm(own, { recursive: true, force: true });
  }
}

/** The folders of this machine's workers that died without removing theirs. */
async function removeLeftovers(storage: string): Promise<void> {
  const names = await fs.readdir(storage).catch(() => []);
  for (const name of names) {
    if (/^\d+$/.test(name) && !isAlive(Number(name))) await fs.rm(path.join(storage, name), { recursive: true, force: true });
  }
}

function calibrationKey(data: JobData<'evaluate' | 'measure'>): string {
  const { command, read } = data.request.metric;
  const { alpha, maxRuns, pinPairs = false } = data.request.sampling;
  // The floor is taken at the decision's largest sample, as its interval (alpha, cap) keeps the estimate, on pairs pinned or not: other settings, another floor.
  return createHash('sha256').update(JSON.stringify([data.snapshot, command, read, data.calibration?.decisionPairs, alpha, maxRuns, pinPairs])).digest('hex');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class JobHandler {
  stopping = false;
  private readonly snapshots: SnapshotStore;
  private current: { workspace: string; evaluator: Evaluator } | undefined;
  private calibrations: Calibrations | undefined;
  private readonly calibrationFile: string;

  constructor(
    private readonly options: WorkerOptions,
    private readonly worker: string,
    private readonly redis: Redis,
    private readonly own: string,
  ) {
    this.snapshots = new SnapshotStore(redis, KEY_PREFIX, { blobs: path.join(options.storage, 'blobs'), workspaces: path.join(own, 'workspaces') });
    this.calibrationFile = path.join(options.storage, 'calibrations.json');
  }

  async run(job: Job<JobData, JobResult>, signal: AbortSignal): Promise<JobResult> {
    const { data } = job;
    const { log, version } = this.options;
    const fail = (error: WireError): JobResult => ({ worker: this.worker, error });
    if (data.version !== version) {
      log(`job ${job.id}: refused, it comes from rsi ${data.version} and this worker runs rsi ${version}`);
      return fail({ kind: 'user', message: `worker ${this.worker} runs rsi ${version} and this cycle rsi ${data.version}: run the same version on both` });
    }
    if (await this.redis.exists(cancelledKey(job.id!))) return fail({ kind: 'cancelled', message: 'cancelled' });
    log(`job ${job.id}: ${data.kind}${job.attemptsStarted > 1 ? ` (attempt ${job.attemptsStarted})` : ''}`);
    const onProgress = (event: EvaluationProgress) => void job.updateProgress({ ...event, worker: this.worker } satisfies JobProgress).catch(() => undefined);
    try {
      const evaluator = await this.evaluatorFor(await this.snapshots.materialize(data.snapshot));
      const run = { signal, onProgress };
      let result: Requests[typeof data.kind]['result'];
      if (data.kind === 'evaluate') {
        const request = await this.calibrated(data as JobData<'evaluate'>, evaluator, run);
        result = { ...(await evaluator.evaluate(request, run)), worker: this.worker };
      } else if (data.kind === 'gate') {
        result = await evaluator.gate((data as JobData<'gate'>).request, run);
      } else {
        const measured = { ...(await evaluator.measure((data as JobData<'measure'>).request, run)), worker: this.worker };
        await this.learnFrom(data as JobData<'measure'>, measured);
        result = measured;
      }
      log(`job ${job.id}: done`);
      return { worker: this.worker, result };
    } catch (error) {
      // Stopping this worker: fail the attempt, so that BullMQ gives the job to another worker.
      if (this.stopping) throw new Error(`worker ${this.worker} stopped`);
      if (signal.aborted) {
        log(`job ${job.id}: stopped`);
        return fail({ kind: 'cancelled', message: 'cancelled' });
      }
      const wire = toWire(error);
      log(`job ${job.id}: ${errorKind(error) === 'program' ? wire.stack ?? wire.message : wire.message}`);
      return fail(wire);
    }
  }

  private async evaluatorFor(workspace: string): Promise<Evaluator> {
    if (this.current?.workspace === workspace) {
      await this.current.evaluator.idle?.(); // between jobs: a runner whose memory grew is restarted
      return this.current.evaluator;
    }
    await this.release();
    this.current = { workspace, evaluator: this.options.localEvaluator(workspace, path.join(this.own, 'sandboxes')) };
    return this.current.evaluator;
  }

  /**
   * The request with this worker's own noise floor: measured once per metric command and workspace
   * snapshot on this machine with A/A pairs (on the request's base), then cached. Not per base:
   * kept winners change the base every cycle, and a small change of code barely changes a
   * machine's noise. The bar is then max(this floor, the request's minimum effect), as on a local
   * run; a deterministic metric, or a floor the config fixes, needs none.
   */
  private async calibrated(data: JobData<'evaluate'>, evaluator: Evaluator, run: EvaluationOptions): Promise<EvaluationRequest> {
    const { request, calibration } = data;
    if (request.sampling.deterministic || !calibration) return request;
    const key = calibrationKey(data);
    let floor = (this.calibrations ??= await this.readCalibrations())[key]?.floor;
    if (floor === undefined) {
      run.onProgress?.({ kind: 'log', message: `worker ${this.worker}: measuring its own noise floor (${calibration.pairs} A/A pairs)` });
      const { base, hiddenEnv, metric, sampling } = request;
      const aa = await evaluator.measure({ base, candidate: {}, hiddenEnv, metric, sampling, pairs: calibration.pairs }, run);
      // A failing run says nothing of the noise: the evaluation itself will meet it and say so.
      if (!aa.ok) return request;
      floor = await this.remember(key, data, calibration, aa.baseline, aa.candidate);
    }
    return { ...request, sampling: { ...request.sampling, noiseFloor: floor } };
  }

  /** The A/A pairs of a coordinator's own calibration, run here, are this worker's calibration too. */
  private async learnFrom(data: JobData<'measure'>, result: MeasureResult): Promise<void> {
    const { request, calibration } = data;
    const aa = Object.keys(request.candidate).length === 0;
    if (!calibration || !aa || !result.ok || request.pairs < calibration.pairs) return;
    const key = calibrationKey(data);
    if ((this.calibrations ??= await this.readCalibrations())[key] === undefined) await this.remember(key, data, calibration, result.baseline, result.candidate);
  }

  private async remember(key: string, data: JobData<'evaluate' | 'measure'>, calibration: NonNullable<JobData['calibration']>, baseline: number[], candidate: number[]): Promise<number> {
    const { alpha, maxRuns } = data.request.sampling;
    const { floor } = floorOf(baseline, candidate, { alpha, maxRuns, decisionPairs: calibration.decisionPairs });
    // Other workers of this machine may have added theirs since: merge, then replace the file whole.
    this.calibrations = { ...(await this.readCalibrations()), [key]: { floor, pairs: baseline.length, time: new Date().toISOString() } };
    const tmp = `${this.calibrationFile}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(this.calibrations, null, 2) + '\n');
    await fs.rename(tmp, this.calibrationFile);
    this.options.log(`calibrated: noise floor ${(floor * 100).toFixed(2)}% for \`${data.request.metric.command}\` over ${baseline.length} A/A pairs`);
    return floor;
  }

  private readCalibrations(): Promise<Calibrations> {
    return fs.readFile(this.calibrationFile, 'utf8').then((text) => JSON.parse(text) as Calibrations, () => ({}));
  }

  async release(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await current?.evaluator.release();
  }
}
