// What a devtest run shows while it runs: each stage's name when it starts, its progress lines
// with the time since the stage started, and how long it took. On a terminal a cli-progress bar
// below the lines shows the stage and its clock; elsewhere (logs, CI) plain lines.
import cliProgress from 'cli-progress';

export interface Reporter {
  runStart(stages: readonly string[]): void;
  stageStart(name: string, index: number, total: number, description: string): void;
  progress(name: string, message: string): void;
  stageEnd(name: string, status: 'done' | 'failed', seconds: number, error?: string): void;
  /** A line outside any stage. */
  log(line: string): void;
  runEnd(): void;
}

/** 12.3s, 4m05s, 1h02m03s. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}h${String(m).padStart(2, '0')}m${rest}s` : `${m}m${rest}s`;
}

interface Clock {
  name: string;
  started: number;
}

/** Plain lines on `write` (stderr by default): `[seed +12.3s] message`. */
export class LineReporter implements Reporter {
  protected current: Clock | undefined;

  constructor(protected readonly write: (text: string) => void = (t) => void process.stderr.write(t)) {}

  protected line(text: string): void {
    this.write(`${text}\n`);
  }

  runStart(stages: readonly string[]): void {
    this.line(`devtest: stages ${stages.join(', ')}`);
  }

  stageStart(name: string, index: number, total: number, description: string): void {
    this.current = { name, started: Date.now() };
    this.line(`\n== devtest ${index + 1}/${total}: ${name} — ${description}`);
  }

  progress(name: string, message: string): void {
    const since = this.current?.name === name ? `+${formatSeconds((Date.now() - this.current.started) / 1000)}` : '';
    for (const l of message.split('\n')) if (l.trim()) this.line(`[${name} ${since}] ${l}`);
  }

  stageEnd(name: string, status: 'done' | 'failed', seconds: number, error?: string): void {
    this.current = undefined;
    this.line(status === 'done' ? `== ${name}: done in ${formatSeconds(seconds)}` : `== ${name}: FAILED after ${formatSeconds(seconds)}: ${error ?? ''}`);
  }

  log(line: string): void {
    this.line(line);
  }

  runEnd(): void {}
}

/** LineReporter's lines above a bar: `devtest [=====-----] 3/8 seed 1m02s`. For terminals. */
export class BarReporter extends LineReporter {
  private multi: cliProgress.MultiBar | undefined;
  private bar: cliProgress.SingleBar | undefined;
  private timer: NodeJS.Timeout | undefined;
  private done = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    super();
  }

  protected override line(text: string): void {
    if (this.multi) this.multi.log(`${text}\n`);
    else this.stream.write(`${text}\n`);
  }

  private tick(): void {
    const c = this.current;
    this.bar?.update(this.done, { stage: c ? c.name : '', clock: c ? formatSeconds((Date.now() - c.started) / 1000) : '' });
  }

  override runStart(stages: readonly string[]): void {
    super.runStart(stages);
    this.multi = new cliProgress.MultiBar(
      { stream: this.stream, format: 'devtest [{bar}] {value}/{total} {stage} {clock}', barsize: 20, hideCursor: true, clearOnComplete: true, fps: 2 },
      cliProgress.Presets.legacy,
    );
    this.bar = this.multi.create(stages.length, 0, { stage: '', clock: '' });
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  override stageStart(name: string, index: number, total: number, description: string): void {
    super.stageStart(name, index, total, description);
    this.tick();
  }

  override stageEnd(name: string, status: 'done' | 'failed', seconds: number, error?: string): void {
    super.stageEnd(name, status, seconds, error);
    if (status === 'done') this.done++;
    this.tick();
  }

  override runEnd(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // The bar prints logged lines at its next redraw: draw once more so none is lost.
    this.multi?.update();
    this.multi?.stop();
    this.multi = undefined;
    this.bar = undefined;
  }
}

/** A bar on a terminal, plain lines otherwise. */
export function defaultReporter(stream: NodeJS.WriteStream = process.stderr): Reporter {
  return stream.isTTY ? new BarReporter(stream) : new LineReporter((t) => void stream.write(t));
}
