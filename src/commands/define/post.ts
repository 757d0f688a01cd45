import type { Command } from "commander";
import type { Context } from "../../context.js";
import type { ExitCode } from "../../errors.js";

/** `identica post`: its arguments, options, help and examples; the handler is loaded when it runs. */
export function definePost(program: Command, ctx: Context, setCode: (code: ExitCode) => void): void {
  program
    .command("post")
    .description("publish a status")
    .argument("[text...]", 'the text; words are joined with spaces; "-" or none (with a pipe) reads stdin')
    .option(
      "--reply-to <id>",
      "the id of the status this replies to (AT Protocol: its at:// URI or bsky.app URL)",
    )
    .option("--source <name>", "the client name the server shows", "identica")
    .option("--dry-run", "print the request that would be sent, and send nothing")
    .option("--max-length <n>", "refuse text longer than n characters (0 = no limit)")
    .option("--if-absent", "post nothing (exit 0) if your recent statuses already hold exactly this text")
    .option("--lines", "post each line of stdin as its own status, as it arrives")
    .option(
      "--to <handle>",
      'post to this account, user@host[:port]; repeat it for several, or "all" (default: config targets)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option("--visibility <v>", "Mastodon: public, unlisted, private or direct (checked before sending)")
    .option("--cw <text>", "Mastodon: a content warning shown before the text")
    .option("--language <code>", "Mastodon, AT Protocol: the ISO 639 language of the text, such as en")
    .addHelpText(
      "after",
      `
Examples:
  identica post "Hello, fediverse"
  uptime | identica post --server social.example --user alice
  identica post --reply-to 12345 -o url "Agreed!"
  identica post --to alice@mastodon.example --to alice@social.example "Hello, both of you"
  identica post --to alice.bsky.social@bsky.social "Hello, Bluesky"
  journalctl -f | grep --line-buffered ERROR | identica post --lines`,
    )
    .action(async (words: string[], flags, cmd: Command) => {
      const { postCommand } = await import("../post.js");
      setCode(await postCommand(ctx, words, flags, cmd.optsWithGlobals()));
    });
}
