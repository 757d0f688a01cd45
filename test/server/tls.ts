import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TlsFiles {
  key: string;
  cert: string;
  /** Path of the certificate, to hand to `--cacert` or NODE_EXTRA_CA_CERTS. */
  certPath: string;
}

/** A self-signed certificate made at test time with openssl (never committed). */
/** `openssl req` for a new 2048-bit key and a certificate (or, without `-x509`, a request). */
function req(dir: string, args: string[]): void {
  execFileSync("openssl", ["req", "-newkey", "rsa:2048", "-nodes", ...args], { cwd: dir, stdio: "ignore" });
}

const selfSigned = (cn: string, key: string, out: string) => [
  "-x509",
  "-days",
  "2",
  "-subj",
  `/CN=${cn}`,
  "-keyout",
  key,
  "-out",
  out,
];

/** A self-signed certificate made at test time with openssl (never committed). */
export function makeCertificate(subjectAltName: string, commonName = "identica test server"): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), "identica-tls-"));
  req(dir, [...selfSigned(commonName, "key.pem", "cert.pem"), "-addext", `subjectAltName=${subjectAltName}`]);
  const certPath = join(dir, "cert.pem");
  return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(certPath, "utf8"), certPath };
}

/**
 * A certificate for 127.0.0.1 that expired in 2020, signed by a CA of its own (`openssl ca` can
 * backdate, `openssl req` cannot). `certPath` is the CA, for `--cacert`.
 */
export function expiredCertificate(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), "identica-tls-expired-"));
  const at = (f: string) => join(dir, f);
  req(dir, selfSigned("identica test CA", "ca.key", "ca.pem"));
  req(dir, ["-subj", "/CN=127.0.0.1", "-keyout", "leaf.key", "-out", "leaf.csr"]);
  mkdirSync(at("db"));
  writeFileSync(at("db/index.txt"), "");
  writeFileSync(at("db/serial"), "01\n");
  writeFileSync(
    at("ca.cnf"),
    "[ca]\ndefault_ca = d\n[d]\ndatabase = db/index.txt\nserial = db/serial\nnew_certs_dir = db\ndefault_md = sha256\npolicy = p\nx509_extensions = ext\n[p]\ncommonName = supplied\n[ext]\nsubjectAltName = IP:127.0.0.1\n",
  );
  execFileSync(
    "openssl",
    [
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      "ca.pem",
      "-keyfile",
      "ca.key",
      "-in",
      "leaf.csr",
      "-out",
      "leaf.pem",
    ].concat(["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"]),
    { cwd: dir, stdio: "ignore" },
  );
  return {
    key: readFileSync(at("leaf.key"), "utf8"),
    cert: readFileSync(at("leaf.pem"), "utf8"),
    certPath: at("ca.pem"),
  };
}

let cached: TlsFiles | undefined;

/** The test servers' certificate: 127.0.0.1, localhost and ::1, trusted only through --cacert. */
export function testCertificate(): TlsFiles {
  cached ??= makeCertificate("IP:127.0.0.1,DNS:localhost,IP:::1");
  return cached;
}
