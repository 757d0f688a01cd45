// The decoder is the product's own (src/services/statusnet/stored-text.ts): GNU social's html_entity_decode() is a fact
// about the server that both sides need, and test/unit/test-server.test.ts checks it against the real
// server's transcripts (fixtures i2, i3, …), which are the oracle here.
import { htmlEntityDecode } from "../../src/services/statusnet/stored-text.js";

export { htmlEntityDecode };

/**
 * The PHP functions whose behaviour GNU social 2.0.1 shows on input (docs/statusnet-api.md §2.3, §8), written
 * for the test server from PHP's documented rules. The product has its own normalisation: this copy
 * is deliberately independent, so that a mistake in one is caught by the other.
 */

/** PHP `trim()`: space, tab, LF, CR, NUL and vertical tab, nothing else (no NBSP, no Unicode spaces). */
export function phpTrim(s: string): string {
  return s.replace(/^[ \t\n\r\0\x0B]+|[ \t\n\r\0\x0B]+$/g, "");
}

/** PHP's truthiness of a string: "" and "0" are false. */
export function phpTruthy(s: string | null | undefined): s is string {
  return s !== null && s !== undefined && s !== "" && s !== "0";
}

/**
 * UTF-8 bytes to a string, each byte that is not part of a valid sequence (a Latin-1 `é` sent as
 * %E9, a truncated sequence, an overlong form, a surrogate) becoming `?`, as the real server
 * stored `caf%E9` (fixture i5-latin1-bytes: `caf?`).
 */
export function utf8WithQuestionMarks(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    let need = 0;
    let cp = 0;
    let min = 0;
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      cp = b & 0x1f;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      cp = b & 0x0f;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      cp = b & 0x07;
      min = 0x10000;
    } else {
      out += "?";
      i++;
      continue;
    }
    let ok = i + need < bytes.length;
    for (let k = 1; ok && k <= need; k++) {
      const c = bytes[i + k] as number;
      if ((c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    if (!ok || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      out += "?";
      i++;
      continue;
    }
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

/** PHP `urldecode()` to bytes: `+` is a space, `%XX` a byte, a `%` not followed by two hex digits stays. */
function urlDecodeBytes(s: string): Buffer {
  const out: number[] = [];
  const raw = Buffer.from(s, "latin1");
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as number;
    if (c === 0x2b) {
      out.push(0x20);
    } else if (c === 0x25 && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

/**
 * PHP's parsing of a query string or an `application/x-www-form-urlencoded` body into `$_GET` /
 * `$_POST`: pairs split on `&` (so an `&` that was not percent-encoded cuts the value, fixture
 * i3-unencoded-ampersand), `+` decoded to a space (i4-plus-sign), invalid UTF-8 as `?`
 * (i5-latin1-bytes), a name without `=` given the empty value, the last of a repeated name winning.
 */
export function parseForm(body: Buffer | string): Map<string, string> {
  const text = typeof body === "string" ? body : body.toString("latin1");
  const out = new Map<string, string>();
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = utf8WithQuestionMarks(urlDecodeBytes(eq < 0 ? pair : pair.slice(0, eq)));
    const value = eq < 0 ? "" : utf8WithQuestionMarks(urlDecodeBytes(pair.slice(eq + 1)));
    if (name !== "") out.set(name, value);
  }
  return out;
}

/**
 * GNU social's `common_xml_safe_str()`, applied to a status's `<text>` in XML replies only: tab, LF
 * and vertical tab become spaces, CR and NUL vanish, other control characters (C0, DEL, C1) and lone
 * surrogates become `*`. JSON replies keep the text as stored.
 */
export function xmlSafeStr(s: string): string {
  return s
    .replace(/[\t\n\x0B]/g, " ")
    .replace(/[\r\0]/g, "")
    .replace(
      /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
      "*",
    );
}
