/**
 * What a server takes as a secret: a password (StatusNet's Basic) or an access token (Mastodon's
 * Bearer, docs/cli.md "Two APIs"). Either is bound to one origin; the service says which it needs.
 */
export type SecretKind = "password" | "token";

/** What a credential is looked up for: one account on one origin, and the kind of secret wanted. */
export interface CredentialTarget {
  /** `scheme://host[:port]`: the only origin the credential may be sent to. */
  origin: string;
  /** Lower-case host, plus the port when it is not the scheme's default (the keychain service suffix). */
  key: string;
  user: string;
  /** The kind of secret the service needs; a password when not said. */
  secret?: SecretKind | undefined;
}

/** What a store of passwords only answers. */
export type PasswordLookup = Exclude<Lookup, { token: string }>;

export const secretKindOf = (target: CredentialTarget): SecretKind => target.secret ?? "password";

export type Lookup =
  | { kind: "found"; password: string }
  | { kind: "found"; token: string }
  | { kind: "missing" }
  /** The source exists in principle but cannot be used now (no keychain service, unreadable netrc). */
  | { kind: "unavailable"; reason: string };

/**
 * One place a password can come from (docs/cli.md "Credentials"). Implementations: the password file, the
 * environment; the next issue adds the OS keychain, netrc and the terminal prompt.
 */
export interface CredentialStore {
  /** How `-v` and error messages name the source, e.g. "IDENTICA_PASSWORD". */
  readonly name: string;
  /** How to set this source up, for the "no credentials" message. */
  readonly setupHint: string;
  /** It asks a person (the terminal prompt): never used just to save a round trip. */
  readonly interactive?: boolean;
  /**
   * It holds one secret for whatever account the run names (a file, an environment variable): a token
   * from it needs no user name, since the server says whose it is.
   */
  readonly anyUser?: boolean;
  /** The kinds of secret it can hold; passwords only when not said. */
  readonly holds?: readonly SecretKind[];
  get(target: CredentialTarget): Promise<Lookup>;
}

/** Whether this store can hold that kind of secret (only such stores are asked). */
export function holdsKind(store: CredentialStore, kind: SecretKind): boolean {
  return (store.holds ?? ["password"]).includes(kind);
}

/** A found secret, as the Lookup for the target's kind. */
export function found(target: CredentialTarget, secret: string): Lookup {
  return secretKindOf(target) === "token"
    ? { kind: "found", token: secret }
    : { kind: "found", password: secret };
}

/** In memory, for unit tests and for library callers that hold the password themselves. */
export class MemoryStore implements CredentialStore {
  readonly name = "memory";
  readonly setupHint = "";
  readonly holds: readonly SecretKind[] = ["password", "token"];
  readonly #entries = new Map<string, string>();

  set(key: string, user: string, secret: string): void {
    this.#entries.set(`${key}\n${user}`, secret);
  }

  async get(target: CredentialTarget): Promise<Lookup> {
    const secret = this.#entries.get(`${target.key}\n${target.user}`);
    return secret === undefined ? { kind: "missing" } : found(target, secret);
  }
}
