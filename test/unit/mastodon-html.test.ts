import { beforeAll, describe, expect, it } from "vitest";
import { loadHtmlText } from "../../src/services/mastodon/html.js";
import { fixtureReply, SNAC_FIXTURES } from "../helpers/fixtures.js";

/** A status's HTML `content` as plain text (src/services/mastodon/html.ts; MASTODON.md §6). */
let text: (html: string) => string;
beforeAll(async () => {
  text = await loadHtmlText();
});

const snacContent = (name: string) =>
  (JSON.parse(fixtureReply(name, SNAC_FIXTURES).body) as { content: string }).content;

describe("snac's content (real replies)", () => {
  it("snac/30: raw `<b>&</b>` is bold text around a bare ampersand; links are their text; no trailing <br>", () => {
    expect(text(snacContent("30-statuses-post-form.txt"))).toBe(
      "hello from curl & #probe @nobody https://example.invalid/x ünïcödé",
    );
  });
  it("snac/31b: <script> is dropped, `5<6 & 7>3` is text, <br> are newlines, <br><br> a blank line", () => {
    expect(text(snacContent("31b-statuses-post-markup.txt"))).toBe(
      "plain? star bold code _under_ tag  5<6 & 7>3 \"q\" 'a'\nsecond line\n\nnew para",
    );
  });
  it("snac/37 and 37b: an empty status is empty text", () => {
    expect(text(snacContent("37-statuses-post-empty.txt"))).toBe("");
    expect(text(snacContent("37b-statuses-post-no-status-param.txt"))).toBe("");
  });
});

describe("Mastodon's content (MASTODON.md §6)", () => {
  it("a link's invisible spans are part of its text: the whole URL, with no ellipsis", () => {
    const html =
      '<p>See <a href="https://example.com/a/very/long/path/that/goes/on" rel="nofollow noopener" translate="no" target="_blank">' +
      '<span class="invisible">https://</span><span class="ellipsis">example.com/a/very/long/pat</span>' +
      '<span class="invisible">h/that/goes/on</span></a></p>';
    expect(text(html)).toBe("See https://example.com/a/very/long/path/that/goes/on");
  });
  it("an h-card mention and a hashtag are their text", () => {
    const html =
      '<p><span class="h-card" translate="no"><a href="https://other.example/@bob" class="u-url mention">@<span>bob</span></a></span> hi ' +
      '<a href="https://m.example/tags/fediverse" class="mention hashtag" rel="tag">#<span>fediverse</span></a></p>';
    expect(text(html)).toBe("@bob hi #fediverse");
  });
  it("paragraphs are separated by one blank line, <br /> is a newline", () => {
    expect(text("<p>one</p><p>two<br />still two</p><p>three</p>")).toBe("one\n\ntwo\nstill two\n\nthree");
  });
  it("the markup's own newlines between paragraphs add nothing", () => {
    expect(text("<p>one</p>\n<p>two</p>\n")).toBe("one\n\ntwo");
  });
  it("escaped markup typed by the user is shown as typed", () => {
    expect(text("<p>&lt;b&gt;not bold&lt;/b&gt; &amp;amp; 5 &lt; 6</p>")).toBe("<b>not bold</b> &amp; 5 < 6");
  });
  it("whitespace inside text is kept as sent", () => {
    expect(text("<p>a  b\tc</p>")).toBe("a  b\tc");
  });
});

describe("entities", () => {
  it("named (with and without the semicolon), decimal and hexadecimal references are decoded", () => {
    expect(text("&eacute;&copy;&hellip;&nbsp;x &#233;&#x1F600;&#X41; &amp &lt;")).toBe("é©…\u00a0x é😀A & <");
  });
  it("an unknown name stays as written; an invalid code point becomes U+FFFD", () => {
    expect(text("&nosuch; &#xD800; &#0;")).toBe("&nosuch; \uFFFD \uFFFD");
  });
});

describe("what is dropped", () => {
  it("the contents of <script>, <style> and <template>", () => {
    expect(
      text("a<script>alert(1)</script>b<style>p{color:red}</style>c<template><p>t</p></template>d"),
    ).toBe("abcd");
  });
  it("an unclosed <script> hides the rest, as in a browser", () => {
    expect(text("shown<script>never closed")).toBe("shown");
  });
  it("the raw-text elements whose contents would look like tags (textarea, xmp, iframe, title, plaintext)", () => {
    expect(
      text("a<textarea><b>x</b></textarea>b<xmp><i>y</i></xmp>c<iframe><u>z</u></iframe>d<title>t</title>e"),
    ).toBe("abcde");
    expect(text("a<plaintext><b>rest")).toBe("a");
  });
  it("comments, CDATA, processing instructions and a doctype", () => {
    expect(text("<!DOCTYPE html>a<!-- c -->b<![CDATA[d]]>e<?php f ?>g")).toBe("abeg");
  });
  it("tags, with their attributes, even when they hold markup", () => {
    expect(text('<div title="<b>x</b>" onclick="alert(1)">text</div>')).toBe("text");
  });
  it("unfinished markup at the end", () => {
    expect(text("a <b")).toBe("a");
    expect(text('a <b x="y')).toBe("a");
    expect(text("a <!-- open")).toBe("a");
  });
  it("a leading <br> and trailing newlines and spaces", () => {
    expect(text("<br><br>x<br>  \n<br>")).toBe("x");
  });
  it("text that only looks like a tag once its pieces are joined is shown as a browser shows it", () => {
    // "<", a <b> element, ">x<", its end tag, then "/b>": a browser too displays `<>x</b>`.
    expect(text("<<b>>x<</b>/b>")).toBe("<>x</b>");
  });
  it("control characters are left for the printer to make visible", () => {
    expect(text("a&#x1b;[31mb\u0007c")).toBe("a\u001b[31mb\u0007c");
  });

  const hostile = [
    "<scr<script>ipt>alert(1)</script>",
    "<<b>>x",
    "<svg><style>s</style><script>x</script><text>t</text></svg>",
    '<a href="javascript:alert(1)">click</a>',
    "<img src=x onerror=alert(1)>",
    "<b><i><u>deep",
    "</p></div></span>x",
    "<noscript><p>n</p></noscript>",
    "<math><mi>x</mi></math>",
    "<table><tr><td>a</td><td>b</td></tr></table>",
  ];
  it.each(hostile)("nothing of the markup survives: %s", (html) => {
    expect(text(html)).not.toMatch(/<[a-z!/?]/i);
  });
});

describe("other servers' markup", () => {
  it("an emoji <img> is its alt text (Akkoma, Pleroma)", () => {
    expect(text('<p>hi <img class="emoji" alt=":blobcat:" src="https://a.example/e.png"></p>')).toBe(
      "hi :blobcat:",
    );
  });
  it("block quotes and lists are set apart; list items are lines", () => {
    expect(text("<p>a</p><blockquote><p>q</p></blockquote><ul><li>one</li><li>two</li></ul>after")).toBe(
      "a\n\nq\n\none\ntwo\n\nafter",
    );
  });
});

describe("loading", () => {
  it("gives the same converter every time", async () => {
    expect(await loadHtmlText()).toBe(text);
  });
  it("a megabyte of content converts without trouble", () => {
    const html = `<p>${"word &amp; <b>bold</b> ".repeat(50_000)}</p>`;
    const t = text(html);
    expect(t.startsWith("word & bold word & bold")).toBe(true);
    expect(t).not.toContain("<");
  });
});
