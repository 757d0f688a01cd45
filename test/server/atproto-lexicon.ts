/**
 * The lexicon checks of the PDS look-alike (atproto.ts), with @atproto/pds 0.5.35's messages: the
 * formats of @atproto/syntax, the XRPC server's params and input checks, app.bsky.feed.post's record,
 * and strict JSON as body-parser reads it.
 */

export const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** How the lexicon validator quotes a value in "(got …)". */
export function got(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? "[]" : "[...]";
  if (isObject(v)) {
    const k = Object.keys(v)[0];
    return k === undefined ? "{}" : `{${JSON.stringify(k)}: ...}`;
  }
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

// The formats of @atproto/syntax, as the lexicon validator applies them.
export const NSID = /^[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;
const HANDLE = /^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const DID = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/;
export const TID = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/;
const URI = /^\w+:(?:\/\/)?[^\s/][^\s]*$/;
const AT_URI = /^at:\/\/[^\s/]+(\/[^\s]*)?$/;
const CID = /^(b[a-z2-7]{50,}|Qm[1-9A-HJ-NP-Za-km-z]{44})$/;
const DATETIME =
  /^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\.[0-9]{1,20})?(Z|([+-][0-2][0-9]:[0-5][0-9]))$/;
/** BCP 47, as @atproto/syntax's `isValidLanguage`. */
const LANG =
  /^((en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE)|(art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang))$|^(([A-Za-z]{2,3}(-[A-Za-z]{3}(-[A-Za-z]{3}){0,2})?)|[A-Za-z]{4}|[A-Za-z]{5,8})(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-x(-[A-Za-z0-9]{1,8})+)?$|^x(-[A-Za-z0-9]{1,8})+$/;

const invalidAs = (name: string, ok: (v: string) => boolean) => (v: string) =>
  ok(v) ? null : `Invalid ${name} (got ${got(v)})`;
const validDid = (v: string) => DID.test(v) && v.length <= 2048;
const validDatetime = (v: string) =>
  DATETIME.test(v) && !v.endsWith("-00:00") && !Number.isNaN(Date.parse(v));

/** Checks of a string field by format name (spec kinds in `fieldProblem`). */
const FORMATS: Record<string, (v: string) => string | null> = {
  ident: invalidAs("AT identifier", (v) => HANDLE.test(v) || validDid(v)),
  nsid: invalidAs("NSID", (v) => NSID.test(v)),
  handle: invalidAs("handle", (v) => HANDLE.test(v)),
  rkey: invalidAs("record key", (v) => /^[a-zA-Z0-9_~.:-]{1,512}$/.test(v) && v !== "." && v !== ".."),
  limit: (v) =>
    !/^-?\d+$/.test(v)
      ? `Expected integer value type (got ${got(v)})`
      : Number(v) < 1
        ? `integer too small (minimum 1, got ${v})`
        : Number(v) > 100
          ? `integer too big (maximum 100, got ${v})`
          : null,
  bool: (v) => (v === "true" || v === "false" ? null : `Expected boolean value type (got ${got(v)})`),
};

/**
 * The first problem of query parameters (`json` false) or of a JSON body against a spec such as
 * "repo:ident collection:nsid rkey?:rkey validate?:boolean record:object": `?` optional, the kind a
 * FORMATS name or object/boolean (default: a string). Messages as the XRPC server words them.
 */
export function fieldProblem(spec: string, get: (k: string) => unknown, json: boolean): string | null {
  for (const item of spec.split(" ")) {
    const [, name = "", optional, kind = "string"] = /^(\w+)(\??)(?::(\w+))?$/.exec(item) ?? [];
    const v = get(name);
    if (v === undefined) {
      if (!optional) return `Missing required key "${name}"${json ? " at $" : ""}`;
      continue;
    }
    const at = json ? ` at $.${name}` : "";
    const type = kind === "object" || kind === "boolean" ? kind : "string";
    if (json && (type === "object" ? !isObject(v) : typeof v !== type))
      return `Expected ${type} value type (got ${got(v)})${at}`;
    const problem = FORMATS[kind]?.(v as string);
    if (problem) return problem + at;
  }
  return null;
}

const graphemes = (s: string) => [...new Intl.Segmenter().segment(s)].length;

/** app.bsky.feed.post's lexicon, the parts a poster meets, in its property order; null: valid. */
export function postProblem(r: Record<string, unknown>): string | null {
  const missing = (k: string, at: string) => `Missing required key "${k}" at ${at}`;
  const typed = (v: unknown, type: string, at: string) => {
    const ok = type === "object" ? isObject(v) : type === "array" ? Array.isArray(v) : typeof v === type;
    return ok ? null : `Expected ${type} value type (got ${got(v)}) at ${at}`;
  };
  /** A string field in a given format: missing, mistyped or malformed. */
  const field = (
    o: Record<string, unknown>,
    k: string,
    at: string,
    name: string,
    ok: (v: string) => boolean,
  ) => {
    if (o[k] === undefined) return missing(k, at);
    return (
      typed(o[k], "string", `${at}.${k}`) ??
      (ok(o[k] as string) ? null : `Invalid ${name} (got ${got(o[k])}) at ${at}.${k}`)
    );
  };
  if (r.text === undefined) return missing("text", "$.record");
  const text = r.text;
  if (typeof text !== "string") return typed(text, "string", "$.record.text");
  const bytes = Buffer.byteLength(text);
  if (bytes > 3000) return `string too big (maximum 3000, got ${bytes}) at $.record.text`;
  if (graphemes(text) > 300) return `grapheme too big (maximum 300, got ${graphemes(text)}) at $.record.text`;
  if (r.facets !== undefined) {
    const p = typed(r.facets, "array", "$.record.facets");
    if (p) return p;
    for (const [i, f] of (r.facets as unknown[]).entries()) {
      const at = `$.record.facets[${i}]`;
      if (!isObject(f)) return typed(f, "object", at);
      if (f.index === undefined) return missing("index", at);
      if (!isObject(f.index)) return typed(f.index, "object", `${at}.index`);
      for (const k of ["byteStart", "byteEnd"]) {
        const n = f.index[k];
        if (n === undefined) return missing(k, `${at}.index`);
        if (!Number.isInteger(n)) return `Expected integer value type (got ${got(n)}) at ${at}.index.${k}`;
      }
      if (f.features === undefined) return missing("features", at);
      if (!Array.isArray(f.features)) return typed(f.features, "array", `${at}.features`);
      for (const [j, feat] of f.features.entries()) {
        const fat = `${at}.features[${j}]`;
        if (!isObject(feat) || typeof feat.$type !== "string")
          return `Expected an object which includes the "$type" property value type (got ${got(feat)}) at ${fat}`;
        const p =
          feat.$type === "app.bsky.richtext.facet#link"
            ? field(feat, "uri", fat, "uri", (v) => URI.test(v))
            : feat.$type === "app.bsky.richtext.facet#mention"
              ? field(feat, "did", fat, "DID", validDid)
              : null;
        if (p) return p;
      }
    }
  }
  if (r.reply !== undefined) {
    if (!isObject(r.reply)) return typed(r.reply, "object", "$.record.reply");
    for (const k of ["root", "parent"]) {
      const ref = r.reply[k];
      const at = `$.record.reply.${k}`;
      if (ref === undefined) return missing(k, "$.record.reply");
      if (!isObject(ref)) return typed(ref, "object", at);
      const p =
        field(ref, "uri", at, "at-uri", (v) => AT_URI.test(v)) ??
        field(ref, "cid", at, "CID string", (v) => CID.test(v));
      if (p) return p;
    }
  }
  if (r.langs !== undefined) {
    if (!Array.isArray(r.langs)) return typed(r.langs, "array", "$.record.langs");
    if (r.langs.length > 3) return `array too big (maximum 3, got ${r.langs.length}) at $.record.langs`;
    for (const i of r.langs.keys()) {
      const p = field(
        r.langs as unknown as Record<string, unknown>,
        String(i),
        "$.record.langs",
        "language",
        (v) => LANG.test(v),
      );
      if (p) return p.replace(`$.record.langs.${i}`, `$.record.langs[${i}]`);
    }
  }
  return field(r, "createdAt", "$.record", "datetime", validDatetime);
}

/** A request the XRPC server refuses before any handler runs: 400 with this error name and message. */
export class InputProblem extends Error {
  constructor(
    message: string,
    readonly error = "InvalidRequest",
  ) {
    super(message);
  }
}

/** body-parser's strict JSON: only an object or an array, else its SyntaxError's words. */
function parseStrictJson(text: string): unknown {
  const first = /^[\x20\x09\x0a\x0d]*(.)/.exec(text)?.[1];
  if (first === undefined) return {};
  let source = text;
  let index = -1;
  if (first !== "{" && first !== "[") {
    index = text.indexOf(first);
    source = text.slice(0, index) + "#".repeat(text.length - index);
  }
  try {
    const v: unknown = JSON.parse(source);
    if (index < 0) return v;
  } catch (e) {
    const message = (e as Error).message;
    const words = index < 0 ? message : message.replace(/#+/g, (p) => text.slice(index, index + p.length));
    throw new InputProblem(words, "SyntaxError");
  }
  throw new InputProblem("strict violation", "SyntaxError");
}

/** A procedure's JSON input, as the XRPC server reads and checks it against `spec` (see fieldProblem). */
export function readInput(contentType: unknown, raw: Buffer, spec: string): Record<string, unknown> {
  const type = String(contentType ?? "")
    .split(";")[0]
    ?.trim()
    .toLowerCase();
  if (!type) throw new InputProblem("Request encoding (Content-Type) required but not provided");
  if (type !== "application/json") throw new InputProblem(`Wrong request encoding (Content-Type): ${type}`);
  const body = parseStrictJson(raw.toString("utf8"));
  if (!isObject(body)) throw new InputProblem(`Expected object value type (got ${got(body)}) at $`);
  const problem = fieldProblem(spec, (k) => body[k], true);
  if (problem) throw new InputProblem(problem);
  return body;
}
