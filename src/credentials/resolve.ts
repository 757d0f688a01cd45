import { ConfigError } from "../errors.js";
import { type CredentialStore, type CredentialTarget, holdsKind, secretKindOf } from "./store.js";

/** A secret found for the target: a password or a token, as the target asked. */
export type Credential = {
  user: string;
  /** The store's name, for `-v` ("password from IDENTICA_PASSWORD"); never the secret. */
  source: string;
} & ({ password: string } | { token: string });

/**
 * Asks each store that can hold the kind of secret wanted, in docs/cli.md's order; the first that has it wins. An unavailable store is
 * skipped (and reported through `note`); when none has it, exit 78 names what was tried.
 */
export async function resolveCredential(
  target: CredentialTarget,
  stores: readonly CredentialStore[],
  note: (line: string) => void,
): Promise<Credential> {
  const kind = secretKindOf(target);
  const asked = stores.filter((s) => holdsKind(s, kind));
  const tried: string[] = [];
  for (const store of asked) {
    const found = await store.get(target);
    if (found.kind === "found") {
      note(`${kind} for ${target.user} at ${target.origin} from ${store.name}`);
      return {
        user: target.user,
        source: store.name,
        ...("token" in found ? { token: found.token } : { password: found.password }),
      };
    }
    if (found.kind === "unavailable") {
      note(`${store.name} is unavailable: ${found.reason}`);
      tried.push(`${store.name} (unavailable: ${found.reason})`);
    } else {
      tried.push(store.name);
    }
  }
  const hints = asked.map((s) => s.setupHint).filter((h) => h !== "");
  throw new ConfigError(
    `no ${kind} for ${target.user} at ${target.key}; tried ${tried.join(", ") || "nothing"}`,
    {
      hint: hints.length > 0 ? hints.join("; or ") : undefined,
    },
  );
}
