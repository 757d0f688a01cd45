// Preloaded with --import: records every module URL the process loads, one per line, in the file
// named by IDENTICA_TRACE_LOADS (module customization hooks run off the main thread).
import { register } from "node:module";

register(new URL("./trace-loads-hooks.mjs", import.meta.url), {
  data: { file: process.env.IDENTICA_TRACE_LOADS },
});
