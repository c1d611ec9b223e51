// The conversations of this console, one tab each (ARIA tabs: arrow keys, Home, End): the
// assigned ones, and for supervisors the monitored ones (supervision.js). Each has its
// transcript, unread count, typing indicator, notes and escalations, kept up to date by the
// frames about conversations: assigned, released, message, ack, delivery, typing, ended, note,
// escalation. panel.js builds and wires each panel.

import { $, Transcript, el, formatTime } from '../common.js';
import { removeOffersOf } from './offers.js';
import { createPanel, relabelPanel, wirePanel } from './panel.js';
import {
  account, announce, checkinText, convs, fmtDuration, i18n, reasonText, send, shortId, t, updateTitle,
} from './shared.js';

const TYPING_SHOW_MS = 5000;

let counter = 0; // DOM ids
let convCounter = 0; // the n in "Chat n"
let selected = null; // the id of the conversation whose tab is selected

export function isSelected(id) {
  return selected === id;
}

// ---- tabs ----

/** A new tab and panel for a conversation, selected when no other tab is. */
export function makePanel(id, kind, channel, lang) {
  const n = ++convCounter;
  const { panel, tab } = createPanel(`conv-${++counter}`);
  const list = panel.querySelector('.transcript');
  const conv = {
    id, kind, n, channel: channel === 'sms' ? 'sms' : 'web', tab, panel, unread: 0, ended: false,
    lang: lang === 'fr' || lang === 'en' ? lang : null, risk: false, label: null,
    escalations: new Set(),
    noteKeys: new Set(),
    lastTypingSent: 0, typingTimer: null,
    transcript: new Transcript(list, {
      own: 'peer',
      label: (from) => t(`who.${from}`),
      state: (s) => t(`state.${s}`),
      lang: () => i18n.lang,
    }),
  };
  panel.querySelector('.transcript-log').setAttribute('aria-label', kind === 'monitor' ? t('tab.monitor', { n }) : t('tab.label', { n, channel: t(`channel.${conv.channel}`) }));
  panel.dataset.conversation = id;
  panel.dataset.kind = kind;
  tab.dataset.conversation = id;
  wirePanel(conv, () => removeConv(conv.id));
  convs.set(id, conv);
  $('tabs').append(tab);
  $('panels').append(panel);
  tab.addEventListener('click', () => selectConv(id, true));
  tab.addEventListener('keydown', onTabKey);
  renderTab(conv);
  renderPanelTitle(conv);
  $('convs-empty').hidden = true;
  if (!selected || !convs.has(selected)) selectConv(id, false);
  return conv;
}

function renderPanelTitle(conv) {
  const title = conv.panel.querySelector('.panel-title');
  title.textContent = conv.kind === 'monitor'
    ? t('panel.monitor', { id: shortId(conv.id) })
    : t('panel.title', { id: shortId(conv.id), channel: t(`channel.${conv.channel}`) });
  title.title = conv.id;
  if (conv.label) title.append(el('span', { class: 'panel-lang', text: ` · ${t('panel.label', { label: conv.label })}` }));
  if (conv.lang) title.append(el('span', { class: 'panel-lang', text: ` · ${t('panel.lang', { lang: t(`lang.${conv.lang}`) })}` }));
  if (conv.risk) title.append(' ', el('strong', { class: 'badge badge-risk', text: t('panel.risk') }));
  if (conv.checkin) title.append(el('span', { class: 'panel-checkin', text: ` · ${conv.checkin}` }));
}

export function renderTab(conv) {
  const label = conv.kind === 'monitor'
    ? t('tab.monitor', { n: conv.n })
    : t('tab.label', { n: conv.n, channel: t(`channel.${conv.channel}`) });
  const parts = [label];
  if (conv.ended) parts.push(`(${t('tab.ended')})`);
  conv.tab.querySelector('.tab-label').textContent = parts.join(' ');
  const badge = conv.tab.querySelector('.tab-badge');
  badge.textContent = conv.unread ? t('tab.unread', { n: conv.unread }) : '';
  badge.hidden = !conv.unread;
  conv.tab.classList.toggle('tab-unread', conv.unread > 0);
  conv.tab.classList.toggle('tab-ended', conv.ended);
  conv.tab.classList.toggle('tab-nudged', Boolean(conv.nudged));
  updateTitle();
}

export function selectConv(id, focus) {
  const conv = convs.get(id);
  if (!conv) return;
  selected = id;
  for (const other of convs.values()) {
    const on = other === conv;
    other.tab.setAttribute('aria-selected', on ? 'true' : 'false');
    other.tab.tabIndex = on ? 0 : -1;
    other.panel.hidden = !on;
  }
  conv.unread = 0;
  renderTab(conv);
  if (focus) conv.tab.focus();
}

function onTabKey(event) {
  const tabs = [...$('tabs').querySelectorAll('[role="tab"]')];
  const i = tabs.indexOf(event.currentTarget);
  let next = null;
  if (event.key === 'ArrowRight') next = tabs[(i + 1) % tabs.length];
  else if (event.key === 'ArrowLeft') next = tabs[(i - 1 + tabs.length) % tabs.length];
  else if (event.key === 'Home') next = tabs[0];
  else if (event.key === 'End') next = tabs[tabs.length - 1];
  if (next) {
    event.preventDefault();
    selectConv(next.dataset.conversation, true);
  }
}

export function removeConv(id) {
  const conv = convs.get(String(id));
  if (!conv) return;
  clearTimeout(conv.typingTimer);
  conv.tab.remove();
  conv.panel.remove();
  convs.delete(String(id));
  if (selected === String(id)) {
    selected = null;
    const first = convs.keys().next();
    if (!first.done) selectConv(first.value, false);
  }
  $('convs-empty').hidden = convs.size > 0;
  updateTitle();
}

/** Signed out: every tab goes. */
export function removeAllConvs() {
  for (const id of [...convs.keys()]) removeConv(id);
}

/** The selected tab is in view again (the browser tab was shown): its messages are read. */
export function markSelectedRead() {
  if (selected && convs.has(selected)) {
    convs.get(selected).unread = 0;
    renderTab(convs.get(selected));
  }
}

/** Every tab's words again, after a language switch. */
export function relabelConvs() {
  for (const conv of convs.values()) {
    relabelPanel(conv);
    renderTab(conv);
    renderPanelTitle(conv);
    conv.transcript.relabel();
  }
}

export function setPanelEnded(conv, ended) {
  const p = conv.panel;
  if (conv.kind === 'monitor') {
    p.querySelector('.composer').hidden = ended;
    return;
  }
  p.querySelector('.composer').hidden = ended;
  p.querySelector('.panel-actions').hidden = ended;
  const noteForm = p.querySelector('.note-form');
  if (noteForm) noteForm.hidden = ended;
  p.querySelector('.panel-closed').hidden = !ended;
}

// ---- frames ----

export function onAssigned(frame) {
  const id = String(frame.conversation);
  removeOffersOf(id);
  let conv = convs.get(id);
  if (conv && conv.kind === 'monitor') {
    removeConv(id);
    conv = null;
  }
  const fresh = !conv;
  if (!conv) conv = makePanel(id, 'assigned', frame.channel, frame.lang);
  applyConvFrame(conv, frame);
  conv.ended = false;
  setPanelEnded(conv, false);
  for (const msg of Array.isArray(frame.history) ? frame.history : []) conv.transcript.addMessage(msg);
  resendPending();
  if (fresh) {
    selectConv(id, false);
    announce(t('tab.label', { n: conv.n, channel: t(`channel.${conv.channel}`) }));
  }
}

/** What assigned and monitoring frames say about a conversation beyond its messages. */
export function applyConvFrame(conv, frame) {
  conv.risk = Boolean(frame.risk);
  if (typeof frame.label === 'string' && frame.label) conv.label = frame.label;
  conv.checkin = checkinText(frame.checkin) || conv.checkin || '';
  renderPanelTitle(conv);
  // Escalations from before this console had the conversation (e.g. while it was queued).
  for (const reason of Array.isArray(frame.escalated) ? frame.escalated : []) {
    onEscalation({ conversation: conv.id, reason });
  }
  // Notes kept with the conversation: the full list, so a reconnect shows each once.
  if (Array.isArray(frame.notes)) {
    conv.panel.querySelector('.notes-list').replaceChildren();
    conv.noteKeys.clear();
    for (const note of frame.notes) addNote(conv, note);
  }
}

/** Send again every message the server has not acknowledged: after a reconnect, and after a
 * refusal (`unavailable`, `rate_limited`: socket.js waits 1 s, 2, 4 … 16 s). The server stores a
 * client_id once, so re-sending a message that was in fact stored is safe. */
export function resendPending() {
  for (const conv of convs.values()) {
    if (conv.kind !== 'assigned' || conv.ended) continue;
    for (const item of conv.transcript.pending()) {
      if (send({ type: 'message', conversation: conv.id, client_id: item.clientId, text: item.text })) {
        conv.transcript.markSent(item.clientId);
      }
    }
  }
}

export function onMessage(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv) return;
  const li = conv.transcript.addMessage(frame);
  if (!li) return;
  if (frame.from === 'seeker') hideTyping(conv);
  if (frame.from !== 'peer' || conv.kind === 'monitor') {
    if (selected !== conv.id || document.hidden) {
      conv.unread += 1;
      renderTab(conv);
      if (selected !== conv.id) announce(t('new.message', { n: conv.n }));
    }
  }
  if (selected === conv.id) li.scrollIntoView({ block: 'nearest' });
}

export function onAck(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv) return;
  conv.transcript.ack(frame.client_id, Number(frame.seq), conv.channel === 'sms' ? 'stored' : 'delivered');
  clearNudge(conv);
}

export function onDelivery(frame) {
  const conv = convs.get(String(frame.conversation));
  if (conv && ['queued', 'sent', 'delivered', 'failed'].includes(frame.state)) {
    conv.transcript.delivery(frame.seq, frame.state);
    // A replay (after a reconnect, a transfer or on monitoring) restates what was already announced.
    if (frame.state === 'failed' && !frame.replay) announce(t('state.sms-failed'));
  }
}

export function onTyping(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv) return;
  const node = conv.panel.querySelector('.typing');
  node.textContent = t('typing.seeker');
  clearTimeout(conv.typingTimer);
  conv.typingTimer = setTimeout(() => hideTyping(conv), TYPING_SHOW_MS);
}

export function hideTyping(conv) {
  clearTimeout(conv.typingTimer);
  conv.panel.querySelector('.typing').textContent = '';
}

export function onEnded(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv) return;
  const by = ['seeker', 'peer', 'system'].includes(frame.by) ? frame.by : 'system';
  conv.ended = true;
  hideTyping(conv);
  conv.transcript.addItem(el('li', { class: 'event', text: t(`ended.${by}`) }));
  setPanelEnded(conv, true);
  renderTab(conv);
  if (selected !== conv.id) announce(t(`ended.${by}`));
}

/** After a (re)connect the server names the conversations still assigned to this peer: an open
 * one it does not name ended, or went back to the queue, while the console was away (its
 * `ended` frame went to a socket that was gone). It stops looking live. */
export function onSynced(frame) {
  const still = new Set(Array.isArray(frame.conversations) ? frame.conversations.map(String) : []);
  for (const conv of convs.values()) {
    if (conv.kind !== 'assigned' || conv.ended || still.has(conv.id)) continue;
    conv.ended = true;
    hideTyping(conv);
    conv.transcript.addItem(el('li', { class: 'event', text: t('ended.away') }));
    setPanelEnded(conv, true);
    renderTab(conv);
    announce(t('ended.away'));
  }
}

/**
 * Show a note or whisper unless it is shown already; returns its author's name, or null for a
 * repeat. Notes have no seq, and the same one can come twice: a supervisor's whisper is sent
 * on the monitor channel and to the supervisor's own, and a note written while an assigned or
 * monitoring frame was being read comes live and in that frame's list. Author, time (ms) and
 * text together tell it apart.
 */
function addNote(conv, note) {
  const key = JSON.stringify([String(note.from || ''), String(note.at || ''), String(note.text || ''),
    Boolean(note.whisper)]);
  if (conv.noteKeys.has(key)) return null;
  conv.noteKeys.add(key);
  const time = note.at ? formatTime(note.at, i18n.lang) : formatTime(null, i18n.lang);
  const name = String(note.from || '');
  const item = el('li', { class: note.whisper ? 'note note-whisper' : 'note' },
    el('span', { class: 'note-from', text: t(note.whisper ? 'notes.whisper' : 'notes.from', { name, time }) }),
    el('p', { class: 'note-text-body', text: String(note.text || '') }));
  conv.panel.querySelector('.notes-list').append(item);
  conv.panel.querySelector('.notes').classList.add('has-notes');
  return name;
}

export function onNote(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv) return;
  const name = addNote(conv, frame);
  if (name === null) return;
  const details = conv.panel.querySelector('.notes');
  const mine = account.profile && name === account.profile.display_name && !frame.whisper;
  if (!mine) {
    // A whisper from a supervisor must not go unseen inside a closed <details>.
    details.open = true;
    announce(t('notes.new', { name, n: conv.n }));
    if (selected !== conv.id) {
      conv.unread += 1;
      renderTab(conv);
    }
  }
}

// The first-reply nudge (`nudge`, an addition to the protocol): this peer took the conversation
// and has not written in it for CHATD_FIRST_REPLY_S. Visible (a banner in its panel, its tab
// marked, an assertive announcement) and audible (a short two-tone chime: the console has had
// a click by then, the accept, so the browser lets it play). Gone once the peer writes.
export function onNudge(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv) return;
  const alerts = conv.panel.querySelector('.panel-alerts');
  alerts.querySelector('.banner-nudge')?.remove();
  const text = t('nudge.text', { n: conv.n, time: fmtDuration(frame.waited_s) });
  alerts.append(el('div', { class: 'banner banner-nudge', role: 'alert', text }));
  conv.nudged = true;
  renderTab(conv);
  announce(text);
  chime();
}

/** The peer wrote: the nudge has done its work. */
export function clearNudge(conv) {
  if (!conv.nudged) return;
  conv.nudged = false;
  conv.panel.querySelector('.banner-nudge')?.remove();
  renderTab(conv);
}

function chime() {
  try {
    const audio = new AudioContext();
    for (const [i, hz] of [660, 880].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = hz;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + i * 0.18);
      osc.stop(audio.currentTime + i * 0.18 + 0.15);
    }
    setTimeout(() => audio.close(), 1000);
  } catch {
    // No audio here (no device, or not allowed): the banner and the title still say it.
  }
}

export function onEscalation(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv || conv.escalations.has(frame.reason)) return;
  conv.escalations.add(frame.reason);
  const box = el('div', { class: 'banner banner-alert', role: 'alert' },
    t('escalation.text', { reason: reasonText(frame.reason) }));
  conv.panel.querySelector('.panel-alerts').append(box);
  conv.transcript.addItem(el('li', { class: 'event event-alert', text: t('escalation.text', { reason: reasonText(frame.reason) }) }));
}
