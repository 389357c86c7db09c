/**
 * node:fs for isomorphic-git, answering its object-store lookups from directory listings read once.
 *
 * For every object, isomorphic-git stats the git dir, tries the loose file (a failed open, and an
 * error object built), then lists objects/pack (profiled): most of the time of indexing
 * a history went there. Objects never change under an id, and every object reachable from a HEAD
 * resolved before the first lookup is already in the listings, so they hold for one request (make
 * a new one per request). A repack racing the request can make a lookup fail: the request fails,
 * and the next one lists afresh.
 */
import { promises as fsp } from 'node:fs';

const NO_PATH = new Error('readFile needs a path');

export function objectStoreFs(gitdir: string) {
  const objects = `${gitdir}/objects/`;
  const pack = `${objects}pack`;
  const listings = new Map<string, Promise<Set<string>>>();
  const list = (dir: string) => {
    let listing = listings.get(dir);
    if (!listing) {
      listing = fsp.readdir(dir).then((names) => new Set(names), () => new Set<string>());
      listings.set(dir, listing);
    }
    return listing;
  };
  let gitdirStat: ReturnType<typeof fsp.stat> | undefined;
  const promises: typeof fsp = {
    ...fsp,
    async readFile(file: unknown, options?: unknown) {
      // Every isomorphic-git call probes readFile() without a path to learn that this fs returns
      // promises: answer with a ready error rather than Node's costly argument error.
      if (file === undefined) throw NO_PATH;
      const loose = typeof file === 'string' && file.startsWith(objects) ? /^([0-9a-f]{2})\/([0-9a-f]{38})$/.exec(file.slice(objects.length)) : null;
      if (loose && !(await list(objects + loose[1])).has(loose[2]!)) {
        throw Object.assign(new Error(`no loose object ${file}`), { code: 'ENOENT' });
      }
      return fsp.readFile(file as string, options as never);
    },
    async readdir(dir: unknown, options?: unknown) {
      return dir === pack ? [...(await list(pack))] : fsp.readdir(dir as string, options as never);
    },
    async stat(file: unknown, options?: unknown) {
      if (file !== gitdir) return fsp.stat(file as string, options as never);
      gitdirStat ??= fsp.stat(gitdir);
      return gitdirStat;
    },
  } as typeof fsp;
  return { promises };
}
