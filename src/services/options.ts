import type { Server } from "../config/server.js";
import type { CredentialStore } from "../credentials/store.js";
import type { HttpConfig } from "../http/config.js";
import type { RunSessions } from "../run-session.js";
import type { ApiName } from "./api.js";
import type { WireFormat } from "./service.js";
import type { ProtectionSpaces } from "./statusnet/spaces.js";

export interface BasicCredential {
  user: string;
  password: string;
}

/** What a service's authentication needs besides the transport (services/statusnet/auth.ts). */
export interface AuthConfig {
  /** Allow Basic over plain http to a host that is not loopback. */
  insecureHttp: boolean;
  /** Called with each credential (and the Basic token made of it) before it is used, so diagnostics can mask it. */
  onSecret?: ((credential: BasicCredential & { token68: string }) => void) | undefined;
  /** Protection spaces known from earlier runs: Basic goes out at once for URLs they cover. */
  spaces?: ProtectionSpaces | undefined;
  /** The run's sessions that are kept nowhere else (run-session.ts). */
  sessions?: RunSessions | undefined;
}

/** The connection settings of a run: the transport's, and what authenticating on it needs. */
export type ConnectionConfig = HttpConfig & AuthConfig;

/** What opening a service needs: the server, the account, the HTTP settings and where secrets come from. */
export interface ServiceOptions {
  server: Server;
  /** The API the server speaks (services/api.ts finds it); StatusNet when not said. */
  api?: ApiName | undefined;
  /** The account; needed only once the server asks for a login. */
  user: string | undefined;
  format: WireFormat;
  http: ConnectionConfig;
  /** Where the password comes from when the server asks: a fixed one (login) or the sources in order. */
  credential:
    | {
        stores: readonly CredentialStore[];
        note: (line: string) => void;
        /** When no user is set: the one account stored for this server, if there is exactly one. */
        soleAccount?: () => Promise<string | undefined>;
        /** A warning the user must see even without -v (one line on stderr). */
        warn?: (line: string) => void;
        /** The config shows the keychain holds this user's StatusNet password here, not a token. */
        passwordLogin?: (user: string) => boolean;
      }
    | { fixed: BasicCredential }
    /** A token to check (login): used as it is, never looked up. */
    | { fixedToken: { user: string; token: string } };
}
