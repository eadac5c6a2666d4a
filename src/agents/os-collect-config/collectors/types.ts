// What every collector provides: its name (also its cache file name) and a collect() that returns
// the outputs to cache, or throws SourceNotConfigured / SourceNotAvailable.
import type { Collected } from '../merger.js';

export interface Collector {
  readonly name: string;
  collect(): Promise<Collected>;
}

export interface CollectorLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
