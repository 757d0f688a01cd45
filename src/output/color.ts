import type { Env } from "../io.js";

/**
 * Colour is decided once per run (docs/cli.md "Output"): `--color`/`--no-color` win; otherwise never with
 * NO_COLOR (https://no-color.org), always with FORCE_COLOR (unless "0"/"false"), else only on a TTY.
 */
export function useColor(flag: boolean | undefined, env: Env, isTTY: boolean | undefined): boolean {
  if (flag !== undefined) return flag;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !(force === "0" || force.toLowerCase() === "false");
  return isTTY === true;
}

/** The handful of styles the pretty output uses; plain when colour is off. */
export interface Style {
  name: (s: string) => string;
  dim: (s: string) => string;
  link: (s: string) => string;
  accent: (s: string) => string;
}

export const plainStyle: Style = { name: (s) => s, dim: (s) => s, link: (s) => s, accent: (s) => s };

/** chalk is loaded only when colour is really wanted. */
export async function loadStyle(color: boolean): Promise<Style> {
  if (!color) return plainStyle;
  const { Chalk } = await import("chalk");
  const c = new Chalk({ level: 1 });
  return { name: (s) => c.bold(s), dim: (s) => c.dim(s), link: (s) => c.cyan(s), accent: (s) => c.yellow(s) };
}
