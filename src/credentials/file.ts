import { NotRegularFile, readRegularFile } from "../config/regular-file.js";
import { ConfigError } from "../errors.js";
import type { CredentialStore, Lookup, PasswordLookup, SecretKind } from "./store.js";

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
  readonly #what: string;

  constructor(path: string, what = "password") {
    this.#path = path;
    this.#what = what;
    this.name = `--password-file ${path}`;
  }

  async get(): Promise<PasswordLookup> {
    return { kind: "found", password: await this.read() };
  }

  /** The file's first line, when the file may be used (mode 0600, a regular file, not empty). */
  async read(): Promise<string> {
    const what = this.#what;
    let text: string;
    try {
      text = await readRegularFile(this.#path, (st) => {
        if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
          const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
          throw new ConfigError(
            `the ${what} file ${this.#path} is accessible by group or others (mode ${mode})`,
            {
              hint: `run: chmod 600 ${this.#path}`,
            },
          );
        }
      });
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (err instanceof NotRegularFile)
        throw new ConfigError(`the ${what} file ${this.#path} is ${err.kind}, not a regular file`, {
          hint: `write the ${what} to a file of mode 0600`,
        });
      throw new ConfigError(
        `cannot read the ${what} file ${this.#path}: ${(err as NodeJS.ErrnoException).code}`,
        {
          cause: err,
        },
      );
    }
    const first = text.split(/\r?\n/, 1)[0] ?? "";
    if (first === "") throw new ConfigError(`the ${what} file ${this.#path} is empty`);
    return first;
  }
}

/** `--token-file PATH`: a Mastodon access token, on the same terms as a password file. */
export class TokenFileStore implements CredentialStore {
  readonly name: string;
  readonly setupHint = "pass --token-file PATH (a file of mode 0600 holding the token)";
  readonly anyUser = true;
  readonly holds: readonly SecretKind[] = ["token"];
  readonly #file: PasswordFileStore;

  constructor(path: string) {
    this.#file = new PasswordFileStore(path, "token");
    this.name = `--token-file ${path}`;
  }

  async get(): Promise<Lookup> {
    return { kind: "found", token: await this.#file.read() };
  }
}
