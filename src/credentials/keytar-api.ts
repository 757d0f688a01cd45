/** The part of keytar identica uses; tests may pass a fake. */
export interface KeytarApi {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
  findCredentials(service: string): Promise<{ account: string; password: string }[]>;
  /**
   * Called when a call did not answer in time: ends whatever is blocked (the helper process), so that
   * nothing keeps the CLI alive; a fake need not have it.
   */
  abandon?(): void;
}
