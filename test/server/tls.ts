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

/** A self-signed certificate made at test time with openssl (never committed). */
export function makeCertificate(subjectAltName: string, commonName = "identica test server"): TlsFiles {
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
      `/CN=${commonName}`,
      "-addext",
      `subjectAltName=${subjectAltName}`,
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ],
    { stdio: "ignore" },
  );
  return { key: readFileSync(keyPath, "utf8"), cert: readFileSync(certPath, "utf8"), certPath };
}

let cached: TlsFiles | undefined;

/** The test servers' certificate: 127.0.0.1, localhost and ::1, trusted only through --cacert. */
export function testCertificate(): TlsFiles {
  cached ??= makeCertificate("IP:127.0.0.1,DNS:localhost,IP:::1");
  return cached;
}
