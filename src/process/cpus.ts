/**
 * Which CPUs a command may be pinned to. On a shared or virtual machine the CPUs do not run at the
 * same speed at the same moment (whatever shares each one's physical core on the host), and the
 * scheduler places each new process where it finds room: the two runs of a pair then often land on
 * different CPUs, and the pair measures the CPUs' difference as much as the change. Linux only:
 * elsewhere a process's CPUs cannot be chosen from outside it.
 */
import { readFileSync } from 'node:fs';
import type { CpuShare } from '../protocol/runner';
import { LINUX } from './tree';

/** "0-3,6" (the kernel's list format) as [0, 1, 2, 3, 6]. */
export function parseCpuList(list: string): number[] {
  return list
    .trim()
    .split(',')
    .filter(Boolean)
    .flatMap((part) => {
      const [from, to = from] = part.split('-').map(Number) as [number, number?];
      return Array.from({ length: to - from + 1 }, (_, i) => from + i);
    });
}

/**
 * A pool slot's share of the CPUs when the slots time side by side: every `slots`-th CPU from the
 * `slot`-th, so two slots never pin their pairs to the same CPU at the same moment; with fewer
 * CPUs than slots, one CPU that some slots share.
 */
export function shareOf(cpus: number[], share: CpuShare | undefined): number[] {
  if (!share || cpus.length === 0) return cpus;
  const mine = cpus.filter((_, i) => i % share.slots === share.slot);
  return mine.length > 0 ? mine : [cpus[share.slot % cpus.length]!];
}

/** The CPUs this process may run on, from the kernel's own list; empty where CPUs cannot be chosen. */
export function allowedCpus(): number[] {
  if (!LINUX) return [];
  const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return line ? parseCpuList(line[1]!) : [];
}
