import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * Writes through a temporary file and a rename: a crash never leaves a half-written file, and a
 * reader (another run of the same workspace) never sees one. Node builtins only: the runner uses it.
 */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.rsi-${process.pid}.tmp`;
  await fs.writeFile(temp, content);
  await fs.rename(temp, file);
}
