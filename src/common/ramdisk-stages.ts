// The deploy ramdisk's start as its agent reports it with the lookup: guest uptimes (seconds since
// the machine's kernel started) at /init, the agent's process start, its code running, the network
// configured and the lookup sent. Only differences between them are shown, so the guest's clock
// need not agree with ours. They are figures for the timeline, never a reason to refuse a lookup:
// a value that is not a plausible uptime is dropped with the reason, which the timeline shows.

/** The stages in the order a ramdisk passes them, with the timeline's words for reaching each. */
export const RAMDISK_STAGES = [
  ['init_s', 'init'],
  ['agent_start_s', 'agent started'],
  ['agent_ready_s', 'agent loaded'],
  ['network_s', 'network up'],
  ['lookup_s', 'lookup'],
] as const;

export type RamdiskStage = (typeof RAMDISK_STAGES)[number][0];

/** An uptime beyond this is not a ramdisk that just booted (and guards against absurd input). */
export const MAX_UPTIME_S = 86_400;

export interface CheckedStages {
  /** The plausible readings, in stage order. */
  stages: Partial<Record<RamdiskStage, number>>;
  /** One reason per dropped field, naming it. */
  ignored: string[];
}

/** Keeps the readings that are numbers in [0, 1 day) and do not go back in time; says why for the rest. */
export function checkRamdiskStages(raw: unknown): CheckedStages {
  const out: CheckedStages = { stages: {}, ignored: [] };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    out.ignored.push(`ramdisk_stages: expected an object of guest uptimes in seconds, got ${Array.isArray(raw) ? 'an array' : typeof raw}`);
    return out;
  }
  const given = raw as Record<string, unknown>;
  const known = new Set<string>(RAMDISK_STAGES.map(([k]) => k));
  for (const k of Object.keys(given).slice(0, 16)) if (!known.has(k)) out.ignored.push(`ramdisk_stages.${k.slice(0, 40)}: not a stage this seed knows`);
  let prev: { key: RamdiskStage; s: number } | undefined;
  for (const [key] of RAMDISK_STAGES) {
    if (!(key in given)) continue;
    const v = given[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= MAX_UPTIME_S) {
      out.ignored.push(`ramdisk_stages.${key}: ${JSON.stringify(v)?.slice(0, 40)} is not a guest uptime (a number of seconds, 0 ≤ s < ${MAX_UPTIME_S})`);
      continue;
    }
    if (prev && v < prev.s) {
      out.ignored.push(`ramdisk_stages.${key}: ${v} s is before ${prev.key} (${prev.s} s)`);
      continue;
    }
    out.stages[key] = v;
    prev = { key, s: v };
  }
  return out;
}

/**
 * The timeline row: from the kernel's start (uptime 0) through each stage reported, the time
 * since the previous one, e.g. "ramdisk (guest clock): kernel → init 3.10 s, → network up 4.20 s".
 */
export function describeRamdiskStages(c: CheckedStages): string {
  const parts: string[] = [];
  let prev = 0;
  for (const [key, words] of RAMDISK_STAGES) {
    const v = c.stages[key];
    if (v === undefined) continue;
    parts.push(`${parts.length ? '→' : 'kernel →'} ${words} ${(v - prev).toFixed(2)} s`);
    prev = v;
  }
  const figures = parts.length ? `${parts.join(', ')} (uptime ${prev.toFixed(2)} s)` : 'no usable figures';
  return `ramdisk (guest clock): ${figures}${c.ignored.length ? `; ignored: ${c.ignored.join('; ')}` : ''}`;
}

/** Reads a row written by describeRamdiskStages back into stage → seconds since the previous stage (the lab benchmark). */
export function parseRamdiskStagesRow(text: string): Partial<Record<RamdiskStage, number>> | undefined {
  if (!text.startsWith('ramdisk (guest clock): ')) return undefined;
  const out: Partial<Record<RamdiskStage, number>> = {};
  for (const [key, words] of RAMDISK_STAGES) {
    const m = new RegExp(`→ ${words} (\\d+(?:\\.\\d+)?) s`).exec(text.split('; ignored:')[0]!);
    if (m) out[key] = Number(m[1]);
  }
  return out;
}
