import type { Mode } from "./mastodon-model.js";

/**
 * The Mastodon look-alike's fixed documents: the instance documents and the HTML pages of each
 * server (snac's login form from fixtures/snac/07, Doorkeeper's pages, GoToSocial's oob page).
 */

export const SNAC_AGENT = "snac/2.94";

export const htmlEscape = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "#39" }[c]};`);

/** What the instance documents say about the server. */
export interface SiteView {
  mode: Mode;
  site: { title: string; maxCharacters: number; urlLength: number };
  origin: string;
  domain: string;
  users: number;
  statuses: number;
}

export const softwareVersion = (mode: Mode): string => (mode === "gotosocial" ? "0.20.0" : "4.3.0");

const mediaConfig = {
  supported_mime_types: ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "audio/mpeg"],
  image_size_limit: 16777216,
  image_matrix_limit: 33177600,
  video_size_limit: 103809024,
  video_frame_rate_limit: 120,
  video_matrix_limit: 8294400,
};
const pollsConfig = {
  max_options: 4,
  max_characters_per_option: 50,
  min_expiration: 300,
  max_expiration: 2629746,
};

export function instanceV1(v: SiteView): unknown {
  const { mode, site, origin, domain } = v;
  if (mode === "snac") {
    return {
      uri: domain,
      domain,
      title: site.title,
      version: `4.0.0 (not true; really ${SNAC_AGENT})`,
      source_url: "https://comam.es/what-is-snac",
      description: domain,
      short_description: domain,
      thumbnail: `${origin}/susie.png`,
      email: "admin@localhost",
      rules: [],
      languages: ["en"],
      urls: { streaming_api: `wss://${domain}` },
      stats: { user_count: 0, status_count: 0, domain_count: 0 },
      registrations: false,
      approval_required: false,
      invites_enabled: false,
      configuration: {
        statuses: {
          characters_reserved_per_url: site.urlLength,
          max_characters: site.maxCharacters,
          max_media_attachments: 4,
        },
        accounts: { max_featured_tags: 0 },
        media_attachments: {
          image_matrix_limit: 33177600,
          image_size_limit: 16777216,
          video_frame_rate_limit: 120,
          video_matrix_limit: 8294400,
          video_size_limit: 103809024,
          // snac/01, verbatim.
          supported_mime_types: [
            "video/3gpp",
            "audio/aac",
            "image/apng",
            "image/avif",
            "audio/flac",
            "video/flv",
            "image/gif",
            "image/jpeg",
            "video/mp4",
            "video/quicktime",
            "audio/mp3",
            "audio/ogg",
            "video/ogg",
            "image/png",
            "image/svg+xml",
            "audio/wav",
            "video/webm",
            "image/webp",
            "audio/wma",
          ],
        },
        polls: {
          max_characters_per_option: 50,
          max_expiration: 2629746,
          max_options: 8,
          min_expiration: 300,
        },
        reactions: { max_reactions: 50 },
      },
    };
  }
  return {
    uri: domain,
    title: site.title,
    short_description: "",
    description: "",
    email: `admin@${domain.replace(/:\d+$/, "")}`,
    version: softwareVersion(mode),
    urls: { streaming_api: `wss://${domain}` },
    stats: { user_count: v.users, status_count: v.statuses, domain_count: 0 },
    thumbnail: `${origin}/packs/media/images/preview.png`,
    languages: ["en"],
    registrations: false,
    approval_required: false,
    invites_enabled: true,
    configuration: {
      accounts: { max_featured_tags: 10, max_pinned_statuses: 5 },
      statuses: {
        max_characters: site.maxCharacters,
        max_media_attachments: 4,
        characters_reserved_per_url: site.urlLength,
      },
      media_attachments: mediaConfig,
      polls: pollsConfig,
    },
    contact_account: null,
    rules: [],
  };
}

export function instanceV2(v: SiteView): unknown {
  const { mode, site, origin, domain } = v;
  return {
    domain,
    title: site.title,
    version: softwareVersion(mode),
    source_url:
      mode === "gotosocial"
        ? "https://github.com/superseriousbusiness/gotosocial"
        : "https://github.com/mastodon/mastodon",
    description: "",
    usage: { users: { active_month: v.users } },
    thumbnail: { url: `${origin}/packs/media/images/preview.png` },
    languages: ["en"],
    configuration: {
      urls: { streaming: `wss://${domain}` },
      vapid: {
        public_key: "BFXZ1o7f4bqwqC3n7cmfz8zQKqx5V4ReO4lZR3m5Kv9L2n2fC1L0dNw1Cw3y8vK1b9i3S6d0R7k2m4s5t6u7w8x",
      },
      accounts: { max_featured_tags: 10, max_pinned_statuses: 5 },
      statuses: {
        max_characters: site.maxCharacters,
        max_media_attachments: 4,
        characters_reserved_per_url: site.urlLength,
      },
      media_attachments: mediaConfig,
      polls: pollsConfig,
      translation: { enabled: false },
    },
    registrations: { enabled: false, approval_required: false, message: null },
    api_versions: { mastodon: 2 },
    contact: { email: `admin@${domain.replace(/:\d+$/, "")}`, account: null },
    rules: [],
  };
}

/** Doorkeeper's error page (an authorization request it refuses). */
export function errorPage(description: string): string {
  return `<!DOCTYPE html>\n<html>\n<head><title>An error has occurred</title></head>\n<body><div class="form-container"><h2>An error has occurred</h2><p>${htmlEscape(description)}</p></div></body>\n</html>\n`;
}

/** Mastodon's authorization page, as a signed-in person sees it. */
export function authorizePage(appName: string, scopes: string[]): string {
  const items = scopes.map((s) => `<li>${htmlEscape(s)}</li>`).join("");
  return `<!DOCTYPE html>\n<html>\n<head><title>Authorization required</title></head>\n<body><div class="form-container"><h2>Authorization required</h2><p><strong>${htmlEscape(appName)}</strong> would like permission to access your account.</p><ul>${items}</ul><form method="post" action="/oauth/authorize"><button type="submit">Authorize</button></form><form method="post" action="/oauth/authorize"><input type="hidden" name="_method" value="delete"><button type="submit">Deny</button></form></div></body>\n</html>\n`;
}

/** Doorkeeper's native page for the oob redirect: the code to copy. */
export function codePage(code: string): string {
  return `<!DOCTYPE html>\n<html>\n<head><title>Authorization code</title></head>\n<body><main role="main"><div class="border-bottom mb-4"><h1>Authorization code:</h1></div><code id="authorization_code">${htmlEscape(code)}</code></main></body>\n</html>\n`;
}

/** GoToSocial's `/oauth/oob`: the code to copy. */
export function gtsOobPage(domain: string, code: string): string {
  return `<!DOCTYPE html>\n<html>\n<head><title>Instance OOB Token</title></head>\n<body><main><h2>Hi ${domain}!</h2><p>Here's your out-of-band token, copy and paste it into your app:</p><code>${htmlEscape(code)}</code></main></body>\n</html>\n`;
}

/** Mastodon's 404 page, for any route it does not have. */
export const MASTODON_404 =
  '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>The page you are looking for isn\'t here. - Mastodon</title>\n</head>\n<body class="error">\n<div class="dialog"><h1>The page you are looking for isn\'t here.</h1></div>\n</body>\n</html>\n';

/** snac's `login_page` (snac/07, 08, 17a): its login form, which posts to `action`; nothing escaped. */
export function snacLoginPage(
  origin: string,
  domain: string,
  message: string,
  action: string,
  redir: string,
  cid: string,
  state: string,
): string {
  return (
    `<!DOCTYPE html>\n<html>\n<head>\n<title>${domain} OAuth - Snac2</title>\n` +
    '<meta content="width=device-width, initial-scale=1, minimum-scale=1, user-scalable=no" name="viewport"><style>:root {color-scheme: light dark}</style>\n' +
    `</head>\n<body><h1>${domain} OAuth identify</h1>\n` +
    `<div style="background-color: red; color: white">${message}</div>\n` +
    `<form method="post" action="${origin}/${action}">\n` +
    '<p>Login: <input type="text" name="login" autocapitalize="off"></p>\n' +
    '<p>Password: <input type="password" name="passwd"></p>\n' +
    `<input type="hidden" name="redir" value="${redir}">\n` +
    `<input type="hidden" name="cid" value="${cid}">\n` +
    `<input type="hidden" name="state" value="${state}">\n` +
    '<input type="submit" value="OK">\n' +
    `</form><p>${SNAC_AGENT}</p></body></html>\n`
  );
}
