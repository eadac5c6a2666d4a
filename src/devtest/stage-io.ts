// What every stage function gets besides its inputs and dependencies.
export interface StageIo {
  progress(message: string): void;
  signal: AbortSignal;
}
