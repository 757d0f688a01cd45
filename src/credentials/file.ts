import { NotRegularFile, readRegularFile } from "../config/regular-file.js";
import { ConfigError } from "../errors.js";
import type { CredentialStore, PasswordLookup } from "./store.js";

/**
 * `--password-file PATH`: the first line of the file. Like ssh with a private key, a file that group or
 * others can access is refused, because the password in it is as good as published. Only a regular file
 * is read: a FIFO without a writer (or a device) would otherwise hold the run for good, past its
 * --timeout and past SIGTERM (config/file.ts readRegularFile).
 */
export class PasswordFileStore implements CredentialStore {
  readonly name: string;
  readonly setupHint = "pass --password-file PATH (a file of mode 0600 holding the password)";
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
    this.name = `--password-file ${path}`;
  }

  async get(): Promise<PasswordLookup> {
    let text: string;
    try {
      text = await readRegularFile(this.#path, (st) => {
        if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
          const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
          throw new ConfigError(
            `the password file ${this.#path} is accessible by group or others (mode ${mode})`,
            {
              hint: `run: chmod 600 ${this.#path}`,
            },
          );
        }
      });
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (err instanceof NotRegularFile)
        throw new ConfigError(`the password file ${this.#path} is ${err.kind}, not a regular file`, {
          hint: "write the password to a file of mode 0600, or set IDENTICA_PASSWORD",
        });
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
