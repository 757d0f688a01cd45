/** What a credential is looked up for: one account on one origin. */
export interface CredentialTarget {
  /** `scheme://host[:port]`: the only origin the credential may be sent to. */
  origin: string;
  /** Lower-case host, plus the port when it is not the scheme's default (the keychain service suffix). */
  key: string;
  user: string;
}

export type Lookup =
  | { kind: "found"; password: string }
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
  get(target: CredentialTarget): Promise<Lookup>;
}

/** In memory, for unit tests and for library callers that hold the password themselves. */
export class MemoryStore implements CredentialStore {
  readonly name = "memory";
  readonly setupHint = "";
  readonly #entries = new Map<string, string>();

  set(key: string, user: string, password: string): void {
    this.#entries.set(`${key}\n${user}`, password);
  }

  async get(target: CredentialTarget): Promise<Lookup> {
    const password = this.#entries.get(`${target.key}\n${target.user}`);
    return password === undefined ? { kind: "missing" } : { kind: "found", password };
  }
}
