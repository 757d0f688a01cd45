// Preloaded with --import: a library call that never returns, as docs/threats.md I8 saw keytar's and as a
// read of a FIFO without a writer (or of a hung network mount) is. It reads the FIFO named by
// IDENTICA_TEST_BLOCK_FIFO, so one thread of libuv's pool waits forever in open(2), and Node cannot end
// the process with process.exit(), which joins that thread first.
import { readFile } from "node:fs";

const fifo = process.env.IDENTICA_TEST_BLOCK_FIFO;
if (fifo) readFile(fifo, () => {});
