import type { XMLParser, XMLValidator } from "fast-xml-parser";
import { oneLine } from "../../sanitize.js";

export class ReplyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplyFormatError";
  }
}

/**
 * Safe settings for server XML (docs/threats.md F1, F2, F5): values stay strings (ids can pass 2^53 and a
 * status "0x1A" must not become 26), character references are decoded, entities once and only once,
 * and the timeline's `<status>` elements are always an array.
 */
const OPTIONS = {
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
  isArray: (_name: string, jpath: unknown) => jpath === "statuses.status",
};

let xml: { parser: XMLParser; validator: typeof XMLValidator } | undefined;

/**
 * fast-xml-parser is in the bundle that loads with the first request (net-libs.ts), not in the program's:
 * connect.ts loads it with the connection, before any reply can arrive, and parseXml stays
 * synchronous. Whatever parses XML outside a session (unit tests) calls this first.
 */
export async function loadXmlParser(): Promise<void> {
  if (xml) return;
  const { XMLParser, XMLValidator } = await import("../../net-libs.js");
  xml ??= { parser: new XMLParser(OPTIONS), validator: XMLValidator };
}

/**
 * Validates, then parses. A DOCTYPE is refused outright: the API never sends one, and it is where
 * entity-expansion and external-entity attacks live.
 */
export function parseXml(text: string): Record<string, unknown> {
  if (/<!DOCTYPE/i.test(text))
    throw new ReplyFormatError("the reply contains a DOCTYPE, which the API never sends");
  if (!xml) throw new Error("the XML parser was used before loadXmlParser()");
  const valid = xml.validator.validate(text);
  if (valid !== true) {
    // The validator's message quotes the reply (a tag or attribute name): it goes through the sanitiser.
    throw new ReplyFormatError(
      `the reply is not well-formed XML (${oneLine(valid.err.msg, 120)}, line ${valid.err.line})`,
    );
  }
  let doc: unknown;
  try {
    doc = xml.parser.parse(text);
  } catch (err) {
    throw new ReplyFormatError(
      `the reply could not be parsed as XML (${oneLine((err as Error).message, 120)})`,
    );
  }
  if (typeof doc !== "object" || doc === null) throw new ReplyFormatError("the reply is empty");
  return doc as Record<string, unknown>;
}
