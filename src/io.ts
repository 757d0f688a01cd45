import type { Readable, Writable } from "node:stream";

/** The streams and environment a run is given (see context.ts), apart so that any layer can name them. */
export type InStream = Readable & { isTTY?: boolean };
export type OutStream = Writable & { isTTY?: boolean; columns?: number };
export type Env = Record<string, string | undefined>;
