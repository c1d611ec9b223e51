// What the admin page's modules share: the translations, the API caller, the status line.

import { $, I18n, pickLang, session } from '../common.js';
import en from '../i18n/admin.en.js';
import fr from '../i18n/admin.fr.js';

export const i18n = new I18n({ en, fr }, pickLang(session.get('chatd.lang')));
export const t = (key, params) => i18n.t(key, params);

/** Call the JSON API with the session cookie (and, for writes, the page's own Origin, which the
 * browser sends by itself). Resolves to {ok, status, body}; never throws. */
export async function api(method, path, body) {
  try {
    const res = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let parsed = null;
    try { parsed = await res.json(); } catch { /* not JSON (CSV, or an error page) */ }
    return { ok: res.ok, status: res.status, body: parsed };
  } catch {
    return { ok: false, status: 0, body: { message: t('error.offline') } };
  }
}

let flashTimer = null;

/** A short confirmation in the page's status line (announced politely). */
export function flash(text) {
  const node = $('flash');
  node.textContent = text;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { node.textContent = ''; }, 10000);
}
