/**
 * Content-addressed workspace snapshots: what a worker needs to rebuild the workspace exactly.
 *
 * The coordinator lists the workspace as a sandbox does (scanWorkspace: git's tracked and
 * untracked-not-ignored files, without node_modules and .rsi's working files), hashes each file,
 * and stores in Redis a manifest (path -> sha256 and mode, or a symlink's target) under the hash of
 * its own text, and each file's content once under its hash: only blobs Redis lacks are uploaded.
 * A worker caches blobs on disk by hash and materializes each manifest once in its storage, where a
 * local evaluator runs on it as on any workspace. A request's overlays travel in the job itself.
 *
 * Blobs and manifests expire after BLOB_TTL_S unused; each snapshot refreshes the ones it uses.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import { UserError } from '../protocol/errors';
import { checkRelPath, scanWorkspace } from '../runner/sandbox';

/** A week: long enough for a nightly run's workers, short enough that Redis does not fill up. */
const BLOB_TTL_S = 7 * 24 * 3600;
/** Commands per pipeline round trip, and blobs fetched at a time (bounded memory on both ends). */
const BATCH = 256;
/** How many materialized workspaces a worker keeps (the newest). */
const KEEP_WORKSPACES = 4;

export type FileEntry = { sha256: string; mode: number } | { link: string };

export interface Manifest {
  v: 1;
  files: Record<string, FileEntry>;
}

const blobKey = (prefix: string, sha256: string) => `${prefix}:blob:${sha256}`;
const manifestKey = (prefix: string, id: string) => `${prefix}:manifest:${id}`;

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A snapshot a worker could not rebuild: the coordinator uploads it again once, then gives up. */
export class SnapshotMissingError extends UserError {
  static readonly marker = 'snapshot missing: ';
}

/** The coordinator's side: snapshots of one workspace, hashing only files whose size or mtime changed. */
export class SnapshotUploader {
  private readonly hashes = new Map<string, { size: number; mtimeMs: number; sha256: string }>();
  /** Manifests uploaded (with their blobs) by this process, and when. */
  private readonly uploaded = new Map<string, number>();

  constructor(
    private readonly prefix: string,
    private readonly workspace: string,
  ) {}

  /** The manifest id of the workspace as it is on disk now, with everything a worker needs in `redis`. */
  async snapshot(redis: Redis): Promise<string> {
    const { root, files, scannedAt } = await scanWorkspace(this.workspace);
    const manifest: Manifest = { v: 1, files: {} };
    for (const rel of [...files.keys()].sort()) {
      const abs = path.join(root, rel);
      const st = await fs.lstat(abs).catch(() => undefined);
      if (!st) continue; // deleted since the scan
      if (st.isSymbolicLink()) {
        manifest.files[rel] = { link: await fs.readlink(abs) };
        continue;
      }
      const known = this.hashes.get(rel);
      // A file changed within the clock's granularity of the scan could change again unseen: hash it again next time.
      const trusted = known && known.size === st.size && known.mtimeMs === st.mtimeMs && st.mtimeMs < scannedAt - 1000;
      const hash = trusted ? known.sha256 : sha256(await fs.readFile(abs));
      this.hashes.set(rel, { size: st.size, mtimeMs: st.mtimeMs, sha256: hash });
      manifest.files[rel] = { sha256: hash, mode: st.mode & 0o777 };
    }
    const text = JSON.stringify(manifest);
    const id = sha256(text);
    const at = this.uploaded.get(id);
    if (at === undefined || Date.now() - at > (BLOB_TTL_S * 1000) / 2) {
      await upload(redis, this.prefix, root, manifest, text, id);
      this.uploaded.set(id, Date.now());
    }
    return id;
  }

  /** Forget what was uploaded: the next snapshot checks every blob again (after a worker missed one). */
  forgetUploads(): void {
    this.uploaded.clear();
  }
}

/** Stores the manifest and the blobs Redis lacks (refreshing the expiry of those it has). */
async function upload(redis: Redis, prefix: string, root: string, manifest: Manifest, text: string, id: string): Promise<void> {
  const byHash = new Map<string, string>();
  for (const [rel, entry] of Object.entries(manifest.files)) if ('sha256' in entry) byHash.set(entry.sha256, rel);
  const hashes = [...byHash.keys()];
  for (let i = 0; i < hashes.length; i += BATCH) {
    const batch = hashes.slice(i, i + BATCH);
    // EXPIRE refreshes a blob that is there and answers 0 for one that is not: one round trip for both.
    const present = await pipelined(redis, batch.map((h) => ['expire', blobKey(prefix, h), BLOB_TTL_S]));
    const missing = batch.filter((_, j) => present[j] !== 1);
    const contents = await Promise.all(missing.map((h) => fs.readFile(path.join(root, byHash.get(h)!))));
    // A file rewritten since it was hashed would be stored under the wrong hash: store only what matches.
    const commands = missing.flatMap((h, j) => (sha256(contents[j]!) === h ? [['set', blobKey(prefix, h), contents[j]!, 'EX', BLOB_TTL_S]] : []));
    if (commands.length > 0) await pipelined(redis, commands);
  }
  await redis.set(manifestKey(prefix, id), text, 'EX', BLOB_TTL_S);
}

/** The replies of one round trip of commands; the first failed command's error is thrown. */
async function pipelined(redis: Redis, commands: unknown[][]): Promise<unknown[]> {
  const replies = (await redis.pipeline(commands as string[][]).exec()) ?? [];
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

/** The worker's side: a blob cache on disk and the workspaces materialized from manifests. */
export class SnapshotStore {
  /**
   * `blobs` may be shared by the workers of a machine (each blob is written whole, then renamed);
   * `workspaces` is this worker's own (a run locks the workspace it runs on).
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly dirs: { blobs: string; workspaces: string },
  ) {}

  /** The folder holding the snapshot's files, built once per manifest; SnapshotMissingError when Redis lacks part of it. */
  async materialize(id: string): Promise<string> {
    const dir = path.join(this.dirs.workspaces, id.slice(0, 16));
    const done = path.join(this.dirs.workspaces, `${id.slice(0, 16)}.done`);
    if (await exists(done)) {
      await fs.utimes(done, new Date(), new Date()); // the newest are kept
      return dir;
    }
    const text = await this.redis.get(manifestKey(this.prefix, id));
    if (text === null || sha256(text) !== id) throw new SnapshotMissingError(`${SnapshotMissingError.marker}the workspace snapshot ${id.slice(0, 12)} is not in Redis (expired or evicted)`);
    const manifest = JSON.parse(text) as Manifest;
    await this.fetchBlobs(manifest);
    const building = `${dir}.${process.pid}.tmp`;
    await fs.rm(building, { recursive: true, force: true });
    for (const [rel, entry] of Object.entries(manifest.files)) {
      const file = path.join(building, checkRelPath(rel));
      await fs.mkdir(path.dirname(file), { recursive: true });
      if ('link' in entry) await fs.symlink(entry.link, file);
      else {
        await fs.copyFile(this.blobPath(entry.sha256), file);
        await fs.chmod(file, entry.mode);
      }
    }
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(building, dir);
    await fs.writeFile(done, id);
    await this.prune();
    return dir;
  }

  private blobPath(hash: string): string {
    return path.join(this.dirs.blobs, hash.slice(0, 2), hash);
  }

  private async fetchBlobs(manifest: Manifest): Promise<void> {
    const wanted = new Map<string, string>();
    for (const [rel, entry] of Object.entries(manifest.files)) {
      if ('sha256' in entry && !wanted.has(entry.sha256) && !(await exists(this.blobPath(entry.sha256)))) wanted.set(entry.sha256, rel);
    }
    const hashes = [...wanted.keys()];
    for (let i = 0; i < hashes.length; i += BATCH) {
      const batch = hashes.slice(i, i + BATCH);
      const replies = (await this.redis.pipeline(batch.map((h) => ['getBuffer', blobKey(this.prefix, h)])).exec()) ?? [];
      for (const [j, hash] of batch.entries()) {
        const [error, data] = replies[j] ?? [];
        if (error) throw error;
        if (!Buffer.isBuffer(data) || sha256(data) !== hash) {
          throw new SnapshotMissingError(`${SnapshotMissingError.marker}${wanted.get(hash)} of the workspace snapshot is not in Redis (expired or evicted)`);
        }
        const file = this.blobPath(hash);
        await fs.mkdir(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        await fs.writeFile(tmp, data);
        await fs.rename(tmp, file);
      }
    }
  }

  /** Keep the newest materialized workspaces; the blobs stay (they make the next one cheap). */
  private async prune(): Promise<void> {
    const marks = (await fs.readdir(this.dirs.workspaces)).filter((name) => name.endsWith('.done'));
    const dated = await Promise.all(marks.map(async (name) => ({ name, at: (await fs.stat(path.join(this.dirs.workspaces, name))).mtimeMs })));
    for (const { name } of dated.sort((a, b) => b.at - a.at).slice(KEEP_WORKSPACES)) {
      await fs.rm(path.join(this.dirs.workspaces, name));
      await fs.rm(path.join(this.dirs.workspaces, name.slice(0, -'.done'.length)), { recursive: true, force: true });
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
