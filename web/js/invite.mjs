// The invite token travels in the link's fragment ("#t=<token>"), which browsers never send
// to the server in requests or Referer headers. The page hands it over in `join` only.
const TOKEN_RE = /^[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{43}$/;

/** The invite token from this page's link, or undefined when there is none. */
export function inviteToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = params.get('t');
  return t && TOKEN_RE.test(t) ? t : undefined;
}
