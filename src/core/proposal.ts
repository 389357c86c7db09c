import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { PendingProposal } from './cycle';
import { appendRecords, type Verdict } from './lessons';
import { normalizeRelative } from './patch';
import { writeFileAtomic } from './files';
import { readTextOrNull, replaceIfUnchanged } from './workspace';

/**
 * `.rsi/proposal.json`: the pending proposal a run left, until `rsi apply` or `rsi reject`
 * decides it. It holds each file's whole `before` and `after` text: applying needs no re-run, and
 * a file that is no longer `before` shows the proposal is stale (the editor's check, per file).
 */
export const PROPOSAL_FILE = path.join('.rsi', 'proposal.json');

export interface SavedProposal extends PendingProposal {
  v: 1;
  time: string;
}

export type Decision =
  | { ok: true; files: string[]; lessons: string[] }
  | { ok: false; reason: string };

const NONE = 'there is no pending proposal: `rsi cycle` leaves one when a candidate beats the baseline';

export async function saveProposal(workspace: string, proposal: PendingProposal): Promise<void> {
  const saved: SavedProposal = { v: 1, time: new Date().toISOString(), ...proposal };
  await writeFileAtomic(path.join(workspace, PROPOSAL_FILE), JSON.stringify(saved, null, 2) + '\n');
}

export async function readProposal(workspace: string): Promise<{ ok: true; proposal: SavedProposal } | { ok: false; reason: string }> {
  const text = await readTextOrNull(path.join(workspace, PROPOSAL_FILE));
  if (text === null) return { ok: false, reason: NONE };
  let saved: Partial<SavedProposal> | undefined;
  try {
    saved = JSON.parse(text) as Partial<SavedProposal>;
  } catch {
    saved = undefined;
  }
  // A hand-edited file must not write outside the workspace.
  const readable =
    saved?.v === 1 && Array.isArray(saved.lessons) && Array.isArray(saved.changes) && saved.changes.every((c) => normalizeRelative(c.path) === c.path);
  if (!readable) return { ok: false, reason: `${PROPOSAL_FILE} cannot be read: delete it and run \`rsi cycle\` again` };
  return { ok: true, proposal: saved as SavedProposal };
}

/**
 * Writes the pending proposal to the workspace, each file atomically, and records "accepted" for
 * its lessons. Refuses, writing nothing, when a file is neither as the proposal found it nor
 * already as it proposes.
 */
export async function applyProposal(workspace: string): Promise<Decision> {
  const read = await readProposal(workspace);
  if (!read.ok) return read;
  const { proposal } = read;
  const toWrite = [];
  const changed = [];
  for (const change of proposal.changes) {
    const now = await readTextOrNull(path.join(workspace, change.path));
    if (now === change.after) continue; // written already (an earlier apply that stopped half-way, or by hand)
    if (now === change.before) toWrite.push(change);
    else changed.push(change.path);
  }
  // Checked again as the files are written: an edit saved meanwhile is not overwritten either.
  const raced = changed.length === 0 ? await replaceIfUnchanged(workspace, toWrite) : undefined;
  if (changed.length > 0 || raced !== undefined) {
    return {
      ok: false,
      reason: `the proposal no longer applies because ${[...changed, raced].filter(Boolean).join(', ')} changed since it was made: \`rsi reject\` drops it and \`rsi cycle\` makes a new one`,
    };
  }
  return decide(workspace, proposal, 'accepted');
}

/** Drops the pending proposal (the files were never written) and records "rejected" for its lessons. */
export async function rejectProposal(workspace: string): Promise<Decision> {
  const read = await readProposal(workspace);
  return read.ok ? decide(workspace, read.proposal, 'rejected') : read;
}

async function decide(workspace: string, proposal: SavedProposal, verdict: Verdict['verdict']): Promise<Decision> {
  const time = new Date().toISOString();
  await appendRecords(workspace, proposal.lessons.map((lesson): Verdict => ({ v: 1, type: 'verdict', lesson, verdict, time })));
  await fs.rm(path.join(workspace, PROPOSAL_FILE), { force: true });
  return { ok: true, files: proposal.changes.map((c) => c.path), lessons: proposal.lessons };
}
