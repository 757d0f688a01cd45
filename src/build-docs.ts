/**
 * Build step (not shipped), run from the repository's root:
 *   build-docs man OUT      src/identica.1.md with its generated parts filled in, written to OUT
 *   build-docs readme       README.md's option tables rewritten in place (`npm run docs`)
 * Both from the program as it is assembled (src/docs.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { programForDocs } from "./cli.js";
import { addCompletion } from "./completion.js";
import { processContext } from "./context.js";
import { fillManPage, fillReadme } from "./docs.js";

const program = programForDocs(processContext(), addCompletion);
const [what, out] = process.argv.slice(2);
if (what === "man" && out) {
  writeFileSync(out, fillManPage(readFileSync("src/identica.1.md", "utf8"), program));
} else if (what === "readme") {
  writeFileSync("README.md", fillReadme(readFileSync("README.md", "utf8"), program));
} else {
  throw new Error("usage: build-docs man OUT | build-docs readme");
}
