// Rules for the player's HLS access token, kept apart from the DOM.

const REFRESH_SHARE = 0.8; // ask for the next token when 80 % of this one's life has passed
const MIN_AHEAD_MS = 5_000; // and at least this long before it ends (a playlist fetch must fit)

// Milliseconds from `now` until the next token should be asked for.
export function tokenRefreshDelay(issuedAt, expiresAt, now) {
  const life = Math.max(0, expiresAt - issuedAt);
  const at = Math.min(issuedAt + life * REFRESH_SHARE, expiresAt - Math.min(MIN_AHEAD_MS, life / 2));
  return Math.max(0, at - now);
}

// `url` with its `token` query parameter replaced by `token`.
export function withToken(url, token) {
  const parsed = new URL(url, window.location.href);
  parsed.searchParams.set("token", token);
  return parsed.href;
}
