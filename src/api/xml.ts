import { XMLParser, XMLValidator } from "fast-xml-parser";
import { oneLine } from "../sanitize.js";

export class ReplyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplyFormatError";
  }
}

/**
 * Safe settings for server XML (SECURITY.md F1, F2, F5): values stay strings (ids can pass 2^53 and a
 * status "0x1A" must not become 26), character references are decoded, entities once and only once,
 * and the timeline's `<status>` elements are always an array.
 */
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
  isArray: (_name, jpath) => jpath === "statuses.status",
});

/**
 * Validates, then parses. A DOCTYPE is refused outright: the API never sends one, and it is where
 * entity-expansion and external-entity attacks live.
 */
export function parseXml(text: string): Record<string, unknown> {
  if (/<!DOCTYPE/i.test(text))
    throw new ReplyFormatError("the reply contains a DOCTYPE, which the API never sends");
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    // The validator's message quotes the reply (a tag or attribute name): it goes through the sanitiser.
    throw new ReplyFormatError(
      `the reply is not well-formed XML (${oneLine(valid.err.msg, 120)}, line ${valid.err.line})`,
    );
  }
  let doc: unknown;
  try {
    doc = parser.parse(text);
  } catch (err) {
    throw new ReplyFormatError(
      `the reply could not be parsed as XML (${oneLine((err as Error).message, 120)})`,
    );
  }
  if (typeof doc !== "object" || doc === null) throw new ReplyFormatError("the reply is empty");
  return doc as Record<string, unknown>;
}
