import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TlsFiles {
  key: string;
  cert: string;
  /** Path of the certificate, to hand to `--cacert` or NODE_EXTRA_CA_CERTS. */
  certPath: string;
}

let cached: TlsFiles | undefined;

/**
 * A self-signed certificate for 127.0.0.1, localhost and ::1, made at test time with openssl (never
 * committed). Trusted by the client only through `--cacert` or NODE_EXTRA_CA_CERTS.
 */
export function testCertificate(): TlsFiles {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), "identica-tls-"));
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=identica test server",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:::1",
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ],
    { stdio: "ignore" },
  );
  cached = { key: readFileSync(keyPath, "utf8"), cert: readFileSync(certPath, "utf8"), certPath };
  return cached;
}
