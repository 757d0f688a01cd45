import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { openInBrowser } from "../../src/output/opener.js";

/** Characters a shell would act on: the opener must get them as they are, as one argument. */
const URL_ = "https://social.example/oauth/authorize?client_id=a&scope=read+write&x=$(touch%20pwned)`id`;y";

let dir: string;
let out: string;
/** A program that writes its arguments, one a line, to $OUT. */
let recorder: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "identica-opener-"));
  out = join(dir, "argv");
  recorder = join(dir, "record");
  writeFileSync(recorder, '#!/bin/sh\nprintf \'%s\\n\' "$@" > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"\n');
  chmodSync(recorder, 0o755);
});

/** The recorder's output, once it has run (the opener does not wait for it). */
async function recorded(): Promise<string> {
  const until = Date.now() + 20_000;
  while (!existsSync(out)) {
    if (Date.now() > until) throw new Error("the opener never ran");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return readFileSync(out, "utf8");
}

function env(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", OUT: out, ...extra };
}

describe("openInBrowser", () => {
  it("runs IDENTICA_BROWSER on an X session with the URL as its one argument, through no shell", async () => {
    expect(openInBrowser(URL_, env({ DISPLAY: ":0", IDENTICA_BROWSER: recorder }), "linux")).toBe(true);
    expect(await recorded()).toBe(`${URL_}\n`);
  });

  it("a Wayland session is graphical too", async () => {
    expect(
      openInBrowser(URL_, env({ WAYLAND_DISPLAY: "wayland-0", IDENTICA_BROWSER: recorder }), "linux"),
    ).toBe(true);
    expect(await recorded()).toBe(`${URL_}\n`);
  });

  it("uses xdg-open on Linux and open on macOS when IDENTICA_BROWSER is not set", async () => {
    for (const [platform, name, extra] of [
      ["linux", "xdg-open", { DISPLAY: ":0" }],
      ["freebsd", "xdg-open", { DISPLAY: ":0" }],
      ["darwin", "open", {}],
    ] as const) {
      const bin = mkdtempSync(join(tmpdir(), "identica-opener-bin-"));
      writeFileSync(join(bin, name), readFileSync(recorder));
      chmodSync(join(bin, name), 0o755);
      expect(openInBrowser(URL_, { ...env(extra), PATH: `${bin}:/usr/bin:/bin` }, platform)).toBe(true);
      expect(await recorded()).toBe(`${URL_}\n`);
      rmSync(out);
    }
  });

  it("does not try without a graphical session (SSH, a console), nor with IDENTICA_BROWSER=none", () => {
    expect(openInBrowser(URL_, env({ IDENTICA_BROWSER: recorder }), "linux")).toBe(false);
    expect(openInBrowser(URL_, env({ IDENTICA_BROWSER: recorder, DISPLAY: "" }), "openbsd")).toBe(false);
    expect(openInBrowser(URL_, env({ DISPLAY: ":0", IDENTICA_BROWSER: "none" }), "linux")).toBe(false);
    expect(openInBrowser(URL_, env({ IDENTICA_BROWSER: "none" }), "darwin")).toBe(false);
    expect(existsSync(out)).toBe(false);
  });

  it("opens only web addresses", () => {
    expect(openInBrowser("--help", env({ DISPLAY: ":0", IDENTICA_BROWSER: recorder }), "linux")).toBe(false);
    expect(
      openInBrowser("file:///etc/passwd", env({ DISPLAY: ":0", IDENTICA_BROWSER: recorder }), "linux"),
    ).toBe(false);
    expect(existsSync(out)).toBe(false);
  });

  it("a missing opener is no error: it tried, and nothing is thrown or left unhandled", async () => {
    const missing = join(dir, "no-such-browser");
    expect(openInBrowser(URL_, env({ DISPLAY: ":0", IDENTICA_BROWSER: missing }), "linux")).toBe(true);
    // The spawn's ENOENT comes as an event after this turn: let it arrive (vitest fails on an unhandled one).
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
});
