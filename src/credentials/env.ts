import type { Env } from "../context.js";
import type { CredentialStore, Lookup } from "./store.js";

/** `IDENTICA_PASSWORD`, for containers and CI secrets. It applies to whatever server the run targets. */
export class EnvStore implements CredentialStore {
  readonly name = "IDENTICA_PASSWORD";
  readonly setupHint = "set IDENTICA_PASSWORD in the environment";
  readonly #env: Env;

  constructor(env: Env) {
    this.#env = env;
  }

  async get(): Promise<Lookup> {
    const pw = this.#env.IDENTICA_PASSWORD;
    return pw === undefined || pw === "" ? { kind: "missing" } : { kind: "found", password: pw };
  }
}
