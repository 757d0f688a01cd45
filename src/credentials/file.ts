import { open } from "node:fs/promises";
import { ConfigError } from "../errors.js";
import type { CredentialStore, Lookup } from "./store.js";

/**
 * `--password-file PATH`: the first line of the file. Like ssh with a private key, a file that group or
 * others can access is refused, because the password in it is as good as published.
 */
export class PasswordFileStore implements CredentialStore {
  readonly name: string;
  readonly setupHint = "pass --password-file PATH (a file of mode 0600 holding the password)";
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
    this.name = `--password-file ${path}`;
  }

  async get(): Promise<Lookup> {
    let text: string;
    try {
      const fh = await open(this.#path, "r");
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw new ConfigError(`the password file ${this.#path} is not a regular file`);
        if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
          const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
          throw new ConfigError(
            `the password file ${this.#path} is accessible by group or others (mode ${mode})`,
            {
              hint: `run: chmod 600 ${this.#path}`,
            },
          );
        }
        text = await fh.readFile("utf8");
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(
        `cannot read the password file ${this.#path}: ${(err as NodeJS.ErrnoException).code}`,
        {
          cause: err,
        },
      );
    }
    const first = text.split(/\r?\n/, 1)[0] ?? "";
    if (first === "") throw new ConfigError(`the password file ${this.#path} is empty`);
    return { kind: "found", password: first };
  }
}
