import { readFileSync } from "node:fs";

/**
 * `identica --help`, `identica help post`, `identica post --help`: the texts the build rendered with
 * the real program (dist/help.json), when the terminal is at least as wide as they were rendered.
 * Undefined means "ask commander" (no such file, an unknown command, a narrow terminal).
 */
export function prebuiltHelp(argv: readonly string[], columns: number | undefined): string | undefined {
  if (columns !== undefined && columns < 80) return undefined;
  let key: string | undefined;
  const isHelp = (a: string | undefined) => a === "--help" || a === "-h";
  if (argv.length === 1 && isHelp(argv[0])) key = "";
  else if (argv.length === 1 && argv[0] === "help") key = "";
  else if (argv.length === 2 && argv[0] === "help") key = argv[1];
  else if (argv.length === 2 && isHelp(argv[1]) && !argv[0]?.startsWith("-")) key = argv[0];
  if (key === undefined) return undefined;
  try {
    const texts = JSON.parse(readFileSync(new URL("./help.json", import.meta.url), "utf8")) as Record<
      string,
      string
    >;
    return Object.hasOwn(texts, key) ? texts[key] : undefined;
  } catch {
    return undefined;
  }
}
