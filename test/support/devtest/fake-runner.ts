// For devtest's stage tests: a CommandRunner that records each call and answers from a function
// (no openstack CLI, no ssh), and small helpers to build answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunOptions, RunResult } from '../../../src/common/child-process.js';
import type { CommandRunner } from '../../../src/devtest/deps.js';

export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'devtest-stages-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Call {
  command: string;
  args: string[];
  cloud?: string;
}

export type Answer = Partial<RunResult> | undefined;

/** A CommandRunner that records each call and answers with `answer(call)` (exit 0, no output by default). */
export function fakeRunner(answer: (c: Call) => Answer): { run: CommandRunner; calls: Call[] } {
  const calls: Call[] = [];
  const run: CommandRunner = async (command, args, o: RunOptions = {}) => {
    const c: Call = { command, args: [...args], cloud: o.env?.OS_CLOUD };
    calls.push(c);
    const a = answer(c) ?? {};
    const r: RunResult = { code: a.code ?? 0, signal: null, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
    if (r.stdout) o.onStdout?.(Buffer.from(r.stdout));
    if (r.code !== 0 && !o.allowFailure) throw new Error(`${command} ${args.join(' ')} exited with code ${r.code}: ${r.stderr}`);
    return r;
  };
  return { run, calls };
}

export const io = (lines: string[] = []) => ({ progress: (m: string) => void lines.push(m), signal: new AbortController().signal });
export const os = (c: Call) => (c.command === 'openstack' ? c.args.join(' ') : '');
export const json = (v: unknown): Answer => ({ stdout: JSON.stringify(v) });
