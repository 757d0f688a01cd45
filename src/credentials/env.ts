import type { Env } from "../io.js";
import type { CredentialStore, PasswordLookup } from "./store.js";

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
