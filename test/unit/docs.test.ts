import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { programForDocs } from "../../src/cli.js";
import { addCompletion } from "../../src/completion.js";
import { processContext } from "../../src/context.js";
import { fillManPage, fillReadme } from "../../src/docs.js";

const program = () => programForDocs(processContext(), addCompletion);
const readme = () => readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const manTemplate = () => readFileSync(new URL("../../src/identica.1.md", import.meta.url), "utf8");

describe("the docs are written from the command definitions (issue 12)", () => {
  it("README.md's option tables are what `npm run docs` writes from the definitions", () => {
    // When this fails, run `npm run docs` and commit README.md.
    expect(readme()).toBe(fillReadme(readme(), program()));
  });

  it("README.md has a table for post and one for the global options", () => {
    const text = readme();
    expect(text).toContain("<!-- options post -->\n| option | meaning |");
    expect(text).toContain("<!-- options global -->\n| option | meaning |");
  });

  it("every option of every command, global ones too, is in the man page", () => {
    const p = program();
    const man = fillManPage(manTemplate(), p);
    expect(man).not.toMatch(/<!--/);
    for (const cmd of [p, ...p.commands.filter((c) => c.name() !== "complete")]) {
      for (const o of cmd.options) expect(man).toContain(`\`${o.long}\``);
      expect(man).toContain(`\`${cmd.name()}\``);
    }
  });

  it("a flag added to a definition appears in the README table and the man page, with its help", () => {
    const p = program();
    p.commands.find((c) => c.name() === "post")?.option("--new-flag <n>", "a flag added in a definition");
    p.option("--new-global", "a global flag added in cli.ts");
    const table = fillReadme(readme(), p);
    expect(table).toContain("| `--new-flag <n>` | a flag added in a definition |");
    expect(table).toContain("| `--new-global` | a global flag added in cli.ts |");
    const man = fillManPage(manTemplate(), p);
    expect(man).toContain("* `--new-flag` *n*:\n    A flag added in a definition.");
    expect(man).toContain("[`--new-flag` *n*]");
    expect(man).toContain("* `--new-global`:\n  A global flag added in cli.ts.");
  });
});
