// What the console's modules share: the words, the one socket, the signed-in account, the open
// conversations and offers, and the ways the console gets noticed without sound (an assertive
// live region, the tab title, the shift area's message line). It imports no feature module, so
// any of them can import it.

import { $, I18n, pickLang, session } from '../common.js';
import en from '../i18n/console.en.js';
import fr from '../i18n/console.fr.js';
import { ReconnectingSocket } from '../socket.js';

export const K = { lang: 'chatd.console.lang', profile: 'chatd.console.profile' };
const BASE_TITLE_KEY = 'title';

export const i18n = new I18n({ en, fr }, pickLang(session.get(K.lang)));
export const t = (key, params) => i18n.t(key, params);

// Ready at open (the peer socket has no hello); a 4401 close or a refused handshake ends the
// session (socket.js). console.js gives it its listeners, and its `resend` (the pending messages
// of conversations.js, which imports this module).
export const socket = new ReconnectingSocket('/ws/peer', { session: true });

/** Send a frame now; false (nothing sent) while the socket is not open. */
export function send(frame) {
  return socket.send(frame);
}

/** The signed-in account: {username, display_name, role, trained}, or null (account.js). */
export const account = { profile: null };

export function isSupervisor() {
  const profile = account.profile;
  return Boolean(profile && (profile.role === 'supervisor' || profile.role === 'admin'));
}

/** conversation id → {kind: 'assigned'|'monitor', n, channel, tab, panel, transcript, unread, ended}
 * (conversations.js adds and removes them). */
export const convs = new Map();
/** offer id → {frame, card, deadline, countdown, bar, conversation} (offers.js). */
export const offers = new Map();

// ---- noticed without sound ----

export function announce(text) {
  const node = $('announcer');
  node.textContent = '';
  // A change of text, after a tick, is what makes screen readers speak it again.
  setTimeout(() => { node.textContent = text; }, 50);
}

/** The shift area's message line (role=alert): refusals and what the console cannot do. */
export function showError(text) {
  $('shift-error').textContent = text;
}

let flashOn = false;

/** The tab title: unread messages counted, and alternating while an offer or an alert waits. */
export function updateTitle() {
  const base = t(BASE_TITLE_KEY);
  const unread = [...convs.values()].reduce((sum, c) => sum + c.unread, 0);
  const alerts = $('alert-list').children.length;
  let title = unread ? `(${unread}) ${base}` : base;
  if ((offers.size || alerts) && flashOn) title = `${alerts ? t('alert.flash') : t('offer.title')} — ${base}`;
  if (document.title !== title) document.title = title;
}

/** Once a second (console.js): the next step of the title's flashing. */
export function flashTitle() {
  flashOn = !flashOn;
  updateTitle();
}

// ---- formatting ----

export function fmtDuration(totalS) {
  const s = Math.max(0, Math.round(Number(totalS) || 0));
  const m = Math.floor(s / 60);
  return m ? t('duration.min', { m, s: String(s % 60).padStart(2, '0') }) : t('duration.s', { s });
}

/** Conversation ids are long hex strings; people compare the first 8 characters. */
export function shortId(id) {
  const s = String(id);
  return s.length > 12 ? `${s.slice(0, 8)}…` : s;
}

/** The seeker's check-in answers (an addition to offers and assigned frames) in words, or ''. */
export function checkinText(checkin) {
  if (!checkin || typeof checkin !== 'object') return '';
  const parts = [];
  const feeling = Number(checkin.feeling);
  if (feeling >= 1 && feeling <= 7) parts.push(t('checkin.feeling', { n: feeling }));
  if (['yes', 'no', 'not_sure'].includes(checkin.safe)) parts.push(t(`checkin.safe.${checkin.safe}`));
  return parts.length ? t('checkin.label', { answers: parts.join(' · ') }) : '';
}

export function reasonText(reason) {
  const key = `reason.${reason}`;
  const text = t(key);
  return text === key ? String(reason) : text;
}
