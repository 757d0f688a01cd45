import { spawn } from "node:child_process";
import type { Env } from "../io.js";

/**
 * Opens `url` with the desktop's opener, for `identica login` (the authorization page): `xdg-open` on
 * Linux and the BSDs, `open` on macOS, `start` on Windows; `IDENTICA_BROWSER` names another program
 * (given the URL as its only argument; `none` opens nothing). Only on a graphical session: over SSH or
 * on a console there is no browser to show it in, and a text browser would fight the code prompt for the
 * terminal. A nicety only: the URL is printed anyway, so the program is started detached with its output
 * ignored, not waited for, and its failure (not installed: ENOENT) is swallowed. Returns whether it
 * tried; the URL is never given to a shell on POSIX.
 */
export function openInBrowser(url: string, env: Env, platform: NodeJS.Platform = process.platform): boolean {
  // Only a web page: a URL that began with "-" would be read as an option by the opener.
  if (!/^https?:\/\//i.test(url)) return false;
  const chosen = env.IDENTICA_BROWSER?.trim();
  if (chosen === "none") return false;
  const graphical =
    platform === "darwin" || platform === "win32" || Boolean(env.DISPLAY) || Boolean(env.WAYLAND_DISPLAY);
  if (!graphical) return false;
  const [command, args, verbatim] = chosen
    ? [chosen, [url], false]
    : platform === "darwin"
      ? ["open", [url], false]
      : platform === "win32"
        ? ["cmd", ["/d", "/c", "start", '""', cmdQuoted(url)], true]
        : ["xdg-open", [url], false];
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: "ignore",
      env,
      windowsHide: true,
      windowsVerbatimArguments: verbatim,
    });
    child.on("error", () => {});
    child.unref();
  } catch {
    // spawn throws at once for some failures (EACCES on some systems, a bad argument): as ENOENT, ignored.
  }
  return true;
}

/**
 * The URL as one argument of `cmd /c start "" …`: in double quotes, cmd takes `&`, `|`, `<`, `>` and `^`
 * as plain characters (an authorization URL has several `&`). A `"` cannot be in a parsed URL; it is
 * percent-encoded anyway so that no URL can close the quotes. `%NAME%` would still be expanded if NAME
 * were a variable: the URLs identica opens (login's) have no `%` but in percent-encoded query values.
 */
function cmdQuoted(url: string): string {
  return `"${url.replace(/"/g, "%22")}"`;
}
