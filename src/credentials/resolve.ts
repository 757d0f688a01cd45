import { ConfigError } from "../errors.js";
import type { CredentialStore, CredentialTarget } from "./store.js";

export interface Credential {
  user: string;
  password: string;
  /** The store's name, for `-v` ("password from IDENTICA_PASSWORD"); never the password. */
  source: string;
}

/**
 * Asks each store in docs/cli.md's order; the first that has the password wins. An unavailable store is
 * skipped (and reported through `note`); when none has it, exit 78 names what was tried.
 */
export async function resolveCredential(
  target: CredentialTarget,
  stores: readonly CredentialStore[],
  note: (line: string) => void,
): Promise<Credential> {
  const tried: string[] = [];
  for (const store of stores) {
    const found = await store.get(target);
    if (found.kind === "found") {
      note(`password for ${target.user} at ${target.origin} from ${store.name}`);
      return { user: target.user, password: found.password, source: store.name };
    }
    if (found.kind === "unavailable") {
      note(`${store.name} is unavailable: ${found.reason}`);
      tried.push(`${store.name} (unavailable: ${found.reason})`);
    } else {
      tried.push(store.name);
    }
  }
  const hints = stores.map((s) => s.setupHint).filter((h) => h !== "");
  throw new ConfigError(
    `no password for ${target.user} at ${target.key}; tried ${tried.join(", ") || "nothing"}`,
    {
      hint: hints.length > 0 ? hints.join("; or ") : undefined,
    },
  );
}
