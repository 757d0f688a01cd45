#!/usr/bin/env node
// CommonJS (see bin/package.json): Node then starts without its ES module loader, ~7 ms sooner.
require("../dist/run.cjs").run();
