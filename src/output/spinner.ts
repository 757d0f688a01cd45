import type { OutStream } from "../context.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** Nothing shows for a request that answers quickly. */
const DELAY_MS = 300;

let current: { stop(): void } | undefined;

/**
 * A spinner on stderr while something takes longer than ~300 ms. It draws on one line with `\r` and
 * clears it when done; the caller decides whether one is wanted at all (a TTY, not -q, not -o json).
 */
export function startSpinner(stream: OutStream, label: string): () => void {
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
    if (current === handle) current = undefined;
  };
  const handle = { stop };
  current = handle;
  return stop;
}

/** Stops the spinner (before a prompt takes the line). */
export function stopSpinner(): void {
  current?.stop();
}
