/**
 * The queue backend as the CLI and the engine load it: its own bundle (dist/queue.js, with BullMQ
 * and ioredis), required only by `rsi worker` and a cycle with a queue, so nothing else parses it.
 */
export { QueueEvaluator, queueOptions } from './evaluation/queue';
export { serveQueue } from './evaluation/worker';
