// Supervision, for supervisors and admins: escalation `alert`s as banners that stay until
// dismissed, each with Monitor; monitoring any live conversation (a read-only tab with a
// whisper box, `monitor` / `monitoring`), which survives a reconnect; and the live `overview`
// of peers, queue and conversations.

import { $, el } from '../common.js';
import {
  applyConvFrame, hideTyping, isSelected, makePanel, renderTab, selectConv, setPanelEnded,
} from './conversations.js';
import { announce, convs, fmtDuration, isSupervisor, reasonText, send, shortId, showError, t, updateTitle } from './shared.js';

/** Conversations the supervisor asked to monitor on this socket, until the server answers. */
const monitorAsked = new Set();

// ---- monitoring ----

export function onMonitoring(frame) {
  const id = String(frame.conversation);
  // Unasked, it answers resumeMonitoring() or the server's own catch-up after it lost events.
  const asked = monitorAsked.delete(id);
  let conv = convs.get(id);
  if (!conv && !asked) return; // the supervisor closed that tab
  if (!conv) conv = makePanel(id, 'monitor', frame.channel, frame.lang);
  applyConvFrame(conv, frame);
  let missed = 0; // messages the tab had not shown: those written while the console was away
  for (const msg of Array.isArray(frame.history) ? frame.history : []) {
    if (conv.transcript.addMessage(msg)) missed += 1;
  }
  // Ended between the server's check and its reading of the history.
  if (frame.state === 'ended') stopMonitoring(conv, 'monitor.ended');
  if (asked) {
    selectConv(id, true);
    return;
  }
  // Unasked, it must not move the supervisor's tab or focus: count and announce instead.
  if (missed && (!isSelected(conv.id) || document.hidden)) {
    conv.unread += missed;
    renderTab(conv);
    if (!isSelected(conv.id)) announce(t('new.message', { n: conv.n }));
  }
}

/**
 * Monitoring belongs to one socket on the server: a console that reconnects (network blip,
 * server restart, its web process gone) watches nothing until it asks again, and a tab left
 * as it was would look live while it stays silent. Ask again for every monitored tab; the
 * `monitoring` answer brings the history, merged by seq (onMonitoring), and a conversation
 * that ended meanwhile is refused with `not_available` (onMonitorRefused).
 */
export function resumeMonitoring() {
  for (const conv of convs.values()) {
    if (conv.kind === 'monitor' && !conv.ended) send({ type: 'monitor', conversation: conv.id });
  }
}

/** The socket is gone: it will answer nothing more. */
export function forgetAsked() {
  monitorAsked.clear();
}

/** The supervisor asks to monitor a conversation (its tab opens and takes focus). */
function askMonitor(id) {
  if (!send({ type: 'monitor', conversation: id })) return false;
  monitorAsked.add(id);
  return true;
}

/** The monitored conversation is over: the tab says so and stops looking live. */
function stopMonitoring(conv, key) {
  if (conv.ended) return;
  conv.ended = true;
  hideTyping(conv);
  conv.transcript.addItem(el('li', { class: 'event', text: t(key) }));
  setPanelEnded(conv, true);
  renderTab(conv);
  if (!isSelected(conv.id)) announce(t(key));
}

/**
 * `not_available` naming a conversation: a refused monitor, the conversation is not live (any
 * more). Asked again by resumeMonitoring(), it ended while the console was away: the tab says
 * so, not the shift area's message line.
 */
export function onMonitorRefused(frame) {
  const conv = convs.get(frame.conversation);
  if (conv && conv.kind === 'monitor') stopMonitoring(conv, 'monitor.gone');
  if (monitorAsked.delete(frame.conversation)) showError(t('error.monitor'));
}

$('monitor-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = $('monitor-id').value.trim();
  if (id && askMonitor(id)) $('monitor-id').value = '';
});

// ---- alerts and overview ----

export function onAlert(frame) {
  const id = String(frame.conversation);
  const list = $('alert-list');
  // role=alert on a div inside the list item (a list may only hold list items): announced at
  // once, and it stays on screen until dismissed.
  const item = el('li', { class: 'alert' }, el('div', { role: 'alert', class: 'alert-body' },
    // no_first_reply (an addition) is an alert without an escalation: titled as what it is.
    el('strong', { class: 'alert-title', text: t(frame.reason === 'no_first_reply' ? 'alert.title.noreply' : 'alert.title') }), ' ',
    el('span', { text: t('alert.text', { reason: reasonText(frame.reason), id: shortId(id) }) })), ' ');
  const monitor = el('button', { type: 'button', class: 'btn btn-primary', text: t('alert.monitor') });
  const dismiss = el('button', { type: 'button', class: 'btn btn-quiet', text: t('alert.dismiss') });
  monitor.addEventListener('click', () => askMonitor(id));
  dismiss.addEventListener('click', () => {
    item.remove();
    $('alerts').hidden = list.children.length === 0;
    updateTitle();
    $('main').focus();
  });
  item.append(el('span', { class: 'alert-actions' }, monitor, ' ', dismiss));
  item.dataset.conversation = id;
  item.dataset.reason = String(frame.reason || '');
  list.prepend(item);
  $('alerts').hidden = false;
  updateTitle();
}

/** Signed out: the alerts go. */
export function clearAlerts() {
  $('alert-list').replaceChildren();
  $('alerts').hidden = true;
}

// A conversation's states as the overview names them (routing/states.py ConvState).
const CONV_STATES = ['new', 'waiting', 'offered', 'active', 'ended'];

export function onOverview(frame) {
  if (!isSupervisor()) return;
  $('overview-empty').hidden = true;
  $('overview-body').hidden = false;
  $('ov-waiting').textContent = String(frame.waiting ?? t('value.none'));
  const peers = $('ov-peers').querySelector('tbody');
  peers.replaceChildren();
  for (const p of Array.isArray(frame.peers) ? frame.peers : []) {
    const state = { on: 'shift.on', break: 'shift.break.state', off: 'shift.off' }[p.state];
    peers.append(el('tr', {},
      el('th', { scope: 'row', text: `${p.display_name || ''} (${p.username || ''})` }),
      el('td', { text: state ? t(state) : String(p.state || '') }),
      el('td', { text: `${p.active ?? 0} / ${p.capacity ?? t('value.none')}` })));
  }
  const rows = $('ov-convs').querySelector('tbody');
  rows.replaceChildren();
  for (const c of Array.isArray(frame.conversations) ? frame.conversations : []) {
    const id = String(c.conversation);
    const watch = el('button', { type: 'button', class: 'btn btn-quiet', text: t('sup.monitor') });
    watch.setAttribute('aria-label', t('sup.monitor.one', { id: shortId(id) }));
    watch.addEventListener('click', () => askMonitor(id));
    const escalated = Array.isArray(c.escalated) && c.escalated.length > 0;
    // A seeker's message the peer has left unanswered past CHATD_UNANSWERED_S (an addition).
    const stateKey = `convstate.${c.state}`;
    const stateText = CONV_STATES.includes(c.state) ? t(stateKey) : String(c.state || '');
    const state = c.overdue
      ? `${stateText} · ${t('sup.unanswered', { time: fmtDuration(c.unanswered_s) })}` : stateText;
    const channel = c.channel === 'web' || c.channel === 'sms' ? t(`channel.${c.channel}`) : String(c.channel || '');
    rows.append(el('tr', { class: c.risk || escalated || c.overdue ? 'row-risk' : null },
      el('th', { scope: 'row', text: shortId(id), title: id }),
      el('td', { text: channel }),
      el('td', { class: c.overdue ? 'overdue' : null, text: state }),
      el('td', { text: c.peer ? String(c.peer) : t('sup.unassigned') }),
      el('td', { text: fmtDuration(c.waited_s) }),
      el('td', { text: c.risk ? t('sup.risk.yes') : t('sup.risk.no') }),
      el('td', { text: (Array.isArray(c.escalated) ? c.escalated : []).map(reasonText).join(', ') || t('value.none') }),
      el('td', {}, watch)));
  }
}
