import type { Server } from "../config/server.js";
import type { CredentialStore } from "../credentials/store.js";
import type { BasicCredential, HttpConfig } from "../http/client.js";
import type { WireFormat } from "./service.js";

/** What opening a service needs: the server, the account, the HTTP settings and where secrets come from. */
export interface ServiceOptions {
  server: Server;
  /** The account; needed only once the server asks for a login. */
  user: string | undefined;
  format: WireFormat;
  http: HttpConfig;
  /** Where the password comes from when the server asks: a fixed one (login) or the sources in order. */
  credential:
    | {
        stores: readonly CredentialStore[];
        note: (line: string) => void;
        /** When no user is set: the one account stored for this server, if there is exactly one. */
        soleAccount?: () => Promise<string | undefined>;
      }
    | { fixed: BasicCredential };
}
