import { defineAccounts } from "./accounts.js";
import { defineConfig } from "./config.js";
import { defineDelete } from "./delete.js";
import { defineLogin } from "./login.js";
import { defineLogout } from "./logout.js";
import { defineOutbox } from "./outbox.js";
import { definePost } from "./post.js";
import { defineShow } from "./show.js";
import { defineTimeline } from "./timeline.js";
import { defineWhoami } from "./whoami.js";

/** Every command but completion, in the order --help lists them; each file says all about its command. */
export const COMMAND_DEFINITIONS = [
  definePost,
  defineShow,
  defineDelete,
  defineTimeline,
  defineConfig,
  defineOutbox,
  defineLogin,
  defineLogout,
  defineWhoami,
  defineAccounts,
];

const COMMANDS = new Set([
  "post",
  "show",
  "delete",
  "timeline",
  "config",
  "outbox",
  "login",
  "logout",
  "whoami",
  "accounts",
]);
const GLOBAL_OPTIONS_WITH_VALUE = new Set([
  "--server",
  "--user",
  "--password-file",
  "--token-file",
  "--api",
  "-o",
  "--output",
  "--format",
  "--timeout",
  "--cacert",
  "--proxy",
]);

/**
 * Whether this run may need the `completion` and `complete` commands (@bomb.sh/tab), which are then
 * loaded: for them, for help (which lists them), and for anything that is not plainly one of the other
 * commands (an unknown command's "did you mean" considers them). Any doubt loads them.
 */
export function needsCompletion(argv: readonly string[]): boolean {
  if (argv.includes("--help") || argv.includes("-h")) return true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith("-")) return !COMMANDS.has(a);
  }
  return true;
}
