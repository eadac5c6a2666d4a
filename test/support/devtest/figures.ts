// The figures a devtest run leaves in its state file, gathered in one place for the benchmark
// (bench/devtest.ts) and the lab test: each stage's time, the pivot's time and bytes, the seed's
// and the undercloud's server memory, the two stack updates' times.
import type { DevtestState } from '../../../src/devtest/state.js';

export interface DevtestFigures {
  /** Stage → seconds, for the stages done. */
  stages: Record<string, number>;
  /** The sum of the stage times, seconds. */
  total_s: number;
  pivot?: { seconds: number; bytes: number; images: number; records: number };
  seed_rss_mib?: number;
  seed_peak_rss_mib?: number;
  undercloud_rss_mib?: number;
  undercloud_peak_rss_mib?: number;
  replace_update_s?: number;
  undercloud_update_s?: number;
  /** Which images the images stage built (the rest came from the cache). */
  images_built?: string[];
}

type Out = Record<string, unknown> | undefined;
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

export function devtestFigures(state: DevtestState): DevtestFigures {
  const out = (name: string): Out => (state.stages[name]?.status === 'done' ? (state.stages[name]!.output as Out) : undefined);
  const stages: Record<string, number> = {};
  for (const [name, r] of Object.entries(state.stages)) if (r.status === 'done' && typeof r.seconds === 'number') stages[name] = Math.round(r.seconds * 10) / 10;
  const f: DevtestFigures = { stages, total_s: Math.round(Object.values(stages).reduce((a, b) => a + b, 0)) };
  const report = out('pivot')?.report as { seconds?: number; bytes?: number; images?: number; counts?: Record<string, number> } | undefined;
  if (report?.seconds !== undefined && report.bytes !== undefined) {
    f.pivot = { seconds: report.seconds, bytes: report.bytes, images: report.images ?? 0, records: Object.values(report.counts ?? {}).reduce((a, b) => a + b, 0) };
  }
  const mem = (o: Out, key: string) => o?.[key] as { rss_mib?: number; peak_rss_mib?: number } | undefined;
  const seed = mem(out('seed-stop'), 'seed_memory');
  const uc = mem(out('handover'), 'undercloud_memory');
  const set = <K extends keyof DevtestFigures>(k: K, v: DevtestFigures[K] | undefined) => {
    if (v !== undefined) f[k] = v;
  };
  set('seed_rss_mib', seed?.rss_mib);
  set('seed_peak_rss_mib', seed?.peak_rss_mib);
  set('undercloud_rss_mib', uc?.rss_mib);
  set('undercloud_peak_rss_mib', uc?.peak_rss_mib);
  set('replace_update_s', num(out('replace')?.update_s));
  set('undercloud_update_s', num(out('undercloud-update')?.update_s));
  const built = out('images')?.built;
  if (Array.isArray(built)) f.images_built = built.map(String);
  return f;
}
