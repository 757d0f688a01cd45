import { describe, expect, it } from "vitest";
import { isStoredFormOf, storedForm } from "../../src/services/statusnet/stored-text.js";

describe("the text as GNU social stores it (html_entity_decode ENT_NOQUOTES, HTML 4.01)", () => {
  it("decodes HTML 4.01 references only, never the quotes", () => {
    expect(storedForm("fish &amp; chips &lt;b&gt; &eacute;t&eacute; &#233; &#xE9; &euro;")).toBe(
      "fish & chips <b> été é é €",
    );
    expect(storedForm("&quot;a&quot; &#34; &#39; &#x27; &apos;")).toBe(
      "&quot;a&quot; &#34; &#39; &#x27; &apos;",
    );
    // HTML5 names and code points HTML 4.01 does not allow stay as typed (PHP leaves them alone).
    expect(storedForm("I &check; it &Tab; &#128; &#0; &amp")).toBe("I &check; it &Tab; &#128; &#0; &amp");
  });
  it("collapses whitespace as the XML reply shows it: CR dropped, newlines and tabs as spaces", () => {
    expect(storedForm("  a\r\nb\tc\rd  ")).toBe("a b cd");
    expect(isStoredFormOf("last night\rwas fun", "last nightwas fun")).toBe(true);
    expect(isStoredFormOf("last night\rwas fun", "last night\rwas fun")).toBe(true);
  });
  it("a link the server shortened is the same status; another link is another status", () => {
    expect(isStoredFormOf("see https://example.org/a/very/long/path now", "see https://sho.rt/x now")).toBe(
      true,
    );
    expect(
      isStoredFormOf("New: https://example.org/releases/v2.0", "New: https://example.org/releases/v1.0"),
    ).toBe(false);
    expect(isStoredFormOf("done https://ci.example/run/2002", "done https://ci.example/run/2001")).toBe(
      false,
    );
    // Shorter, but on the same host: not a shortening.
    expect(isStoredFormOf("v https://example.org/v10.0", "v https://example.org/v1.0")).toBe(false);
    // Longer on another host: not a shortening either.
    expect(isStoredFormOf("x https://a.example/1", "x https://b.example/1234567")).toBe(false);
  });
});
