// The conductor's AgentChannel over the boot service's command queue. A deploy's steps are run
// in order by the conductor; after a seed restart the conductor runs them again from the start,
// and this is where that becomes a resume: a step whose command had succeeded before the
// restart is not repeated (its stored result is returned), one that was running is waited for,
// and one the restart broke (queued, or failed while the seed was away: write_image streams
// from the seed) is issued again, once. Every agent command is safe to repeat on its own
// (write_image rewrites the whole image, erase/inspect/sync are idempotent).
import { BootstackError } from '../common/errors.js';
import type { CommandRecord, DeployCommands } from '../boot/deploy-commands.js';
import type { AgentChannel, AgentOutcome } from '../baremetal/index.js';

/** How long one wait on a command lasts before the abort signal is looked at again. */
const WAIT_SLICE_MS = 250;

export function agentChannel(commands: DeployCommands): AgentChannel {
  const outcome = (r: CommandRecord): AgentOutcome => ({ status: r.status === 'succeeded' ? 'succeeded' : 'failed', result: r.result, error: r.error });

  const waitFor = async (c: CommandRecord, signal: AbortSignal): Promise<CommandRecord> => {
    for (;;) {
      if (signal.aborted) throw new BootstackError(409, 'aborted', `agent command ${c.name} abandoned: the node left its wait state`);
      try {
        return await commands.wait(c.id, WAIT_SLICE_MS);
      } catch (err) {
        // 409: not finished within the slice, go round; anything else (404: the session ended) is final.
        if ((err as BootstackError).status !== 409) throw err;
      }
    }
  };

  return {
    lookedUp: (nodeId) => commands.session(nodeId) !== undefined,
    lastActivity: (nodeId) => commands.session(nodeId)?.lastActivity,
    async run(nodeId, name, params, signal) {
      const before = commands.claimRestored(nodeId, name);
      if (before?.status === 'succeeded') return outcome(before);
      if (before && !before.interrupted && before.status === 'failed') return outcome(before); // failed on its own before the restart
      if (before?.status === 'running' || before?.status === 'queued') {
        const r = await waitFor(before, signal);
        if (r.status === 'succeeded' || !r.interrupted) return outcome(r);
      }
      // Fresh (or once more after a restart broke it).
      return outcome(await waitFor(commands.enqueue(nodeId, name, params), signal));
    },
  };
}
