import type { Env } from "../io.js";
import type { CredentialStore, Lookup, PasswordLookup, SecretKind } from "./store.js";

/** `IDENTICA_PASSWORD`, for containers and CI secrets. It applies to whatever server the run targets. */
export class EnvStore implements CredentialStore {
  readonly name = "IDENTICA_PASSWORD";
  readonly setupHint = "set IDENTICA_PASSWORD in the environment";
  readonly #env: Env;

  constructor(env: Env) {
    this.#env = env;
  }

  async get(): Promise<PasswordLookup> {
    const pw = this.#env.IDENTICA_PASSWORD;
    return pw === undefined || pw === "" ? { kind: "missing" } : { kind: "found", password: pw };
  }
}

/** `IDENTICA_TOKEN`: a Mastodon access token, for containers and CI secrets, for the run's own server. */
export class EnvTokenStore implements CredentialStore {
  readonly name = "IDENTICA_TOKEN";
  readonly setupHint = "set IDENTICA_TOKEN in the environment";
  readonly anyUser = true;
  readonly holds: readonly SecretKind[] = ["token"];
  readonly #env: Env;

  constructor(env: Env) {
    this.#env = env;
  }

  async get(): Promise<Lookup> {
    const token = this.#env.IDENTICA_TOKEN;
    return token === undefined || token === "" ? { kind: "missing" } : { kind: "found", token };
  }
}
