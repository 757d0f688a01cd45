import type { OutStream } from "../io.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** Nothing shows for a request that answers quickly. */
const DELAY_MS = 300;

/** The spinner showing for one run, if any: a prompt stops it before it takes the line. */
export class SpinnerSlot {
  current: { stop(): void } | undefined;

  stop(): void {
    this.current?.stop();
  }
}

/**
 * A spinner on stderr while something takes longer than ~300 ms. It draws on one line with `\r` and
 * clears it when done; the caller decides whether one is wanted at all (a TTY, not -q, not -o json).
 */
export function startSpinner(stream: OutStream, label: string, slot: SpinnerSlot): () => void {
  let frame = 0;
  let shown = false;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    shown = true;
    stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`);
  };
  const delay = setTimeout(() => {
    draw();
    timer = setInterval(draw, 80);
    timer.unref();
  }, DELAY_MS);
  delay.unref();
  const stop = () => {
    clearTimeout(delay);
    clearInterval(timer);
    if (shown) stream.write("\r\u001b[2K");
    shown = false;
    if (slot.current === handle) slot.current = undefined;
  };
  const handle = { stop };
  slot.current = handle;
  return stop;
}
