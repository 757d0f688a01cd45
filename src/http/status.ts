import { ExitCode } from "../errors.js";

/**
 * HTTP status → exit code, as docs/cli.md "Exit codes" fixes it. `apiError` says whether the body was the
 * API's own error document (`<hash><error>` / `{"error":…}`): a 404 or 405 without one means the
 * server has no such route, which is a wrong API root (69), not refused content (65).
 */
export function exitCodeForStatus(status: number, apiError: boolean): ExitCode {
  if (status >= 300 && status < 400) return ExitCode.Unavailable;
  if (status === 401 || status === 403) return ExitCode.NoPerm;
  if (status === 429 || status === 503) return ExitCode.TempFail;
  if (status >= 500) return ExitCode.Unavailable;
  if ((status === 404 || status === 405) && !apiError) return ExitCode.Unavailable;
  if (status >= 400) return ExitCode.Data;
  return ExitCode.Protocol;
}
