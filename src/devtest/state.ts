// devtest-state.json: which stages of a devtest run are done, with what they produced, so that a
// re-run resumes at the first unfinished stage. Written whole after every change through a
// temporary file and a rename (src/common/atomic-write.ts): a reader, or a run killed mid-write,
// sees the old state or the new, never half of one. 0600: outputs hold the clouds' passwords.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../common/atomic-write.js';
import { ConfigError } from '../common/errors.js';

export const STATE_FILE = 'devtest-state.json';
export const STATE_VERSION = 1;

/** `running` is written when a stage starts: a run that was killed leaves it, and it counts as unfinished. */
export type StageStatus = 'running' | 'done' | 'failed';

export interface StageRecord {
  status: StageStatus;
  started_at: string;
  finished_at?: string;
  seconds?: number;
  /** What the stage returned (JSON), for the stages after it. */
  output?: unknown;
  error?: string;
}

export interface DevtestState {
  version: typeof STATE_VERSION;
  created_at: string;
  updated_at: string;
  stages: Record<string, StageRecord>;
}

export function emptyState(now = new Date()): DevtestState {
  return { version: STATE_VERSION, created_at: now.toISOString(), updated_at: now.toISOString(), stages: {} };
}

/** The state at `path`; a new empty state when there is no file. A file that is not a state is refused. */
export async function readState(path: string): Promise<DevtestState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path} is not JSON (${(err as Error).message}); remove it to start over, or run \`bootstack devtest clean\``, { cause: err });
  }
  const d = doc as Partial<DevtestState> | null;
  if (!d || typeof d !== 'object' || d.version !== STATE_VERSION || typeof d.stages !== 'object' || d.stages === null) {
    throw new ConfigError(`${path} is not a devtest state file of version ${STATE_VERSION}; remove it to start over, or run \`bootstack devtest clean\``);
  }
  return d as DevtestState;
}

export async function writeState(path: string, state: DevtestState): Promise<void> {
  state.updated_at = new Date().toISOString();
  await writeFileAtomic(path, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
}
