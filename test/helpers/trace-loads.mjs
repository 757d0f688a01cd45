// Preloaded with --import: records, one per line in the file named by IDENTICA_TRACE_LOADS, every
// module URL the process loads through the ES module loader (hooks run off the main thread), every
// CommonJS file it compiles, every bundle dist/run.cjs compiles (src/bundles.ts, as a vm.Script), and
// at exit Node's own modules (`node:<name>`).
import { appendFileSync } from "node:fs";
import Module, { register } from "node:module";
import { pathToFileURL } from "node:url";
import vm from "node:vm";

const file = process.env.IDENTICA_TRACE_LOADS;
register(new URL("./trace-loads-hooks.mjs", import.meta.url), { data: { file } });

if (file) {
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    appendFileSync(file, `${pathToFileURL(filename).href}\n`);
    return compile.call(this, content, filename);
  };
  const Script = vm.Script;
  vm.Script = class extends Script {
    constructor(code, options) {
      super(code, options);
      const name = typeof options === "string" ? options : options?.filename;
      if (name) appendFileSync(file, `${pathToFileURL(name).href}\n`);
    }
  };
  process.on("exit", () => {
    const builtins = process.moduleLoadList.filter((m) => m.startsWith("NativeModule "));
    appendFileSync(file, builtins.map((m) => `node:${m.slice("NativeModule ".length)}\n`).join(""));
  });
}
