'use strict';
// A minimal browser for preparing logins: fetch without following redirects, cookies kept per
// host:port with Path, Max-Age and Expires honoured (the SP and the test IdP both listen on
// 127.0.0.1, on different ports; keeping them apart is simpler than a real browser's rules and
// changes nothing for these flows). Port of test/support/browser.ts.

const REQUEST_TIMEOUT_MS = 10_000;

class Browser {
  constructor() {
    this.cookies = [];
  }

  /** GET url and follow redirects until stop(URL) is true (returns that URL unfetched) or a non-redirect answer. */
  async follow(url, stop, maxHops = 20) {
    let current = url;
    for (let i = 0; i < maxHops; i++) {
      if (stop(new URL(current))) return { url: current, response: null };
      const response = await this.get(current);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { url: current, response };
      await response.arrayBuffer();
      current = new URL(location, current).href;
    }
    throw new Error(`more than ${maxHops} redirects from ${url}`);
  }

  async get(url) {
    const target = new URL(url);
    const cookie = this.cookieHeader(target);
    const response = await fetch(target, {
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), 'user-agent': 'rbac-bench-browser' },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    this.store(target, response.headers.getSetCookie());
    return response;
  }

  setCookie(origin, name, value, path = '/') {
    const host = new URL(origin).host;
    this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === host && c.path === path));
    this.cookies.push({ name, value, host, path, expires: null });
  }

  cookieHeader(url) {
    const now = Date.now();
    return this.cookies
      .filter((c) => c.host === url.host && (c.expires === null || c.expires > now) && pathMatches(url.pathname, c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  store(url, headers) {
    for (const header of headers) {
      const [pair, ...attributes] = header.split(';').map((p) => p.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      let expires = null;
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=');
        if (key.toLowerCase() === 'path') path = val || '/';
        if (key.toLowerCase() === 'max-age') expires = Date.now() + Number(val) * 1000;
        if (key.toLowerCase() === 'expires' && expires === null) expires = Date.parse(val);
      }
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === url.host && c.path === path));
      if (expires === null || expires > Date.now()) this.cookies.push({ name, value, host: url.host, path, expires });
    }
  }
}

function pathMatches(requestPath, cookiePath) {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

module.exports = { Browser };
