/**
 * Training progress: a live line rewritten in place on a terminal, plain periodic lines
 * otherwise (log files and CI would otherwise fill with carriage returns). Formatting is pure;
 * the reporter takes an injectable sink and clock so its output can be tested exactly.
 */

/** h:mm:ss; "--:--:--" when unknown (no rate yet, or a stalled run). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--:--";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`;
}

/**
 * Exponential moving average; the first sample seeds it so early readings aren't dragged
 * towards 0. Per-step rates are noisy (data loading, GC, the first step compiling pipelines).
 */
export function ema(prev: number | undefined, sample: number, alpha: number): number {
  return prev === undefined || !Number.isFinite(prev) ? sample : prev + alpha * (sample - prev);
}

export interface ProgressState {
  epoch: number;
  epochs: number;
  step: number;
  totalSteps: number;
  loss: number;
  /** Train accuracy in [0, 1]. */
  accuracy: number;
  imagesPerSec?: number;
  etaSec?: number;
}

export function formatProgress(s: ProgressState): string {
  const rate = s.imagesPerSec === undefined || !Number.isFinite(s.imagesPerSec)
    ? "-"
    : Math.round(s.imagesPerSec).toLocaleString("en-US");
  const width = String(s.totalSteps).length;
  return [
    `epoch ${String(s.epoch).padStart(String(s.epochs).length)}/${s.epochs}`,
    `step ${String(s.step).padStart(width)}/${s.totalSteps}`,
    `loss ${Number.isFinite(s.loss) ? s.loss.toFixed(4) : String(s.loss)}`,
    `acc ${Number.isFinite(s.accuracy) ? (s.accuracy * 100).toFixed(1).padStart(5) : "    -"}%`,
    `${rate} img/s`,
    `ETA ${formatDuration(s.etaSec ?? NaN)}`,
  ].join("  ");
}

/** Where progress text goes (a line, or a terminal's redraw with `\r`). */
export type Sink = (text: string) => void;

const encoder = new TextEncoder();
export const stdoutSink: Sink = (text) => {
  const bytes = encoder.encode(text);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
};

export interface ReporterOptions {
  epochs: number;
  totalSteps: number;
  sink?: Sink;
  /** Default: Deno.stdout.isTerminal(). */
  tty?: boolean;
  /** Non-TTY: print every N steps (and the last). Default 100. */
  every?: number;
  /**
   * Non-TTY: also print a line whenever this many milliseconds passed since the last one (from
   * {@link ProgressReporter.update} or {@link ProgressReporter.tick}), so a log shows a live run
   * however slow its steps. Default 30,000.
   */
  heartbeatMs?: number;
  /** EMA weight of the newest rate sample. Default 0.1. */
  alpha?: number;
  /** TTY: minimum milliseconds between redraws, so fast steps don't flood the terminal. */
  minRedrawMs?: number;
  /** Milliseconds clock; default performance.now. */
  now?: () => number;
  /** The progress line (default {@link formatProgress}, training's). */
  format?: (s: ProgressState) => string;
}

export interface StepUpdate {
  epoch: number;
  /** Global steps completed so far (1 after the first step). */
  step: number;
  loss: number;
  accuracy: number;
  /** Images processed in this update's steps. */
  images: number;
}

export class ProgressReporter {
  readonly #sink: Sink;
  readonly #tty: boolean;
  readonly #every: number;
  readonly #alpha: number;
  readonly #minRedrawMs: number;
  readonly #now: () => number;
  #lastTime: number;
  #lastStep = 0;
  #lastDraw = -Infinity;
  #imagesPerSec: number | undefined;
  #secPerStep: number | undefined;
  #liveLine = false;
  readonly #heartbeatMs: number;
  #lastPrint: number;
  #last: { epoch: number; loss: number; accuracy: number } = {
    epoch: 1,
    loss: NaN,
    accuracy: NaN,
  };

  constructor(readonly opts: ReporterOptions) {
    this.#sink = opts.sink ?? stdoutSink;
    this.#tty = opts.tty ?? Deno.stdout.isTerminal();
    this.#every = Math.max(1, opts.every ?? 100);
    this.#alpha = opts.alpha ?? 0.1;
    this.#minRedrawMs = opts.minRedrawMs ?? 100;
    this.#now = opts.now ?? (() => performance.now());
    this.#lastTime = this.#now();
    this.#heartbeatMs = opts.heartbeatMs ?? 30_000;
    this.#lastPrint = this.#lastTime;
  }

  /** Resets the rate clock, e.g. after evaluation so its time isn't counted as training. */
  resume(step: number): void {
    this.#lastTime = this.#now();
    this.#lastStep = step;
  }

  update(u: StepUpdate): void {
    const t = this.#now();
    const dt = (t - this.#lastTime) / 1000, steps = u.step - this.#lastStep;
    if (dt > 0 && steps > 0) {
      this.#imagesPerSec = ema(this.#imagesPerSec, u.images / dt, this.#alpha);
      this.#secPerStep = ema(this.#secPerStep, dt / steps, this.#alpha);
    }
    this.#lastTime = t;
    this.#lastStep = u.step;
    this.#last = { epoch: u.epoch, loss: u.loss, accuracy: u.accuracy };

    const total = this.opts.totalSteps;
    const last = u.step >= total;
    const line = this.#line(u.step);
    if (this.#tty) {
      if (!last && t - this.#lastDraw < this.#minRedrawMs) return;
      this.#lastDraw = t;
      // \x1b[K clears what's left of a longer previous line.
      this.#sink(`\r${line}\x1b[K`);
      this.#liveLine = true;
    } else if (u.step % this.#every === 0 || last || t - this.#lastPrint >= this.#heartbeatMs) {
      this.#print(line, t);
    }
  }

  /**
   * A step was taken (`step` steps so far) whose metrics are not read yet: off a terminal, prints
   * a line with the last read loss and accuracy when the heartbeat interval has passed since the
   * last line. Cheap enough to call after every step.
   */
  tick(step: number, epoch = this.#last.epoch): void {
    if (this.#tty) return;
    const t = this.#now();
    if (t - this.#lastPrint < this.#heartbeatMs) return;
    this.#last.epoch = epoch;
    this.#print(this.#line(step), t);
  }

  #line(step: number): string {
    const total = this.opts.totalSteps;
    return (this.opts.format ?? formatProgress)({
      epoch: this.#last.epoch,
      epochs: this.opts.epochs,
      step,
      totalSteps: total,
      loss: this.#last.loss,
      accuracy: this.#last.accuracy,
      imagesPerSec: this.#imagesPerSec,
      etaSec: this.#secPerStep === undefined ? undefined : (total - step) * this.#secPerStep,
    });
  }

  #print(line: string, t: number): void {
    this.#sink(line + "\n");
    this.#lastPrint = t;
  }

  /** A permanent message (epoch summary, eval result) that must not be overwritten. */
  log(message: string): void {
    if (this.#liveLine) {
      this.#sink(`\r\x1b[K${message}\n`);
      this.#lastDraw = -Infinity; // redraw the live line on the next update
      this.#liveLine = false;
    } else {
      this.#sink(message + "\n");
      this.#lastPrint = this.#now();
    }
  }

  /** Ends the live line so following output starts on a fresh one. */
  finish(): void {
    if (this.#liveLine) this.#sink("\n");
    this.#liveLine = false;
  }
}
