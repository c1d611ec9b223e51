// The peer console (GET /console): sign-in, then /ws/peer as CONTRACT.md section 3 says.
//
// One tab per conversation (assigned ones, and for supervisors the monitored ones), each
// with its transcript, composer, private notes and actions. Offers are shown with a
// countdown and made noticeable without sound: the tab title flashes and the offer card
// pulses (still when the reader asked for reduced motion), and an assertive live region
// announces it.

import { $, I18n, Transcript, el, formatTime, pickLang, session, uuid } from './common.js';
import en from './i18n/console.en.js';
import fr from './i18n/console.fr.js';
import { ReconnectingSocket } from './socket.js';

const K = { lang: 'chatd.console.lang', profile: 'chatd.console.profile' };
const TYPING_SEND_EVERY_MS = 2000;
const TYPING_SHOW_MS = 5000;
const BASE_TITLE_KEY = 'title';

const i18n = new I18n({ en, fr }, pickLang(session.get(K.lang)));
const t = (key, params) => i18n.t(key, params);

let profile = null;
// Ready at open (the peer socket has no hello); a 4401 close or a refused handshake ends the
// session (socket.js).
const socket = new ReconnectingSocket('/ws/peer', { session: true });
let shift = { state: 'off', capacity: null, active: 0, debrief_until: null };
let queue = { waiting: null, peers_on_shift: null };
let canned = { en: [], fr: [] };
let lastAccepted = null;
let counter = 0; // DOM ids
let convCounter = 0; // the n in "Chat n"

/** conversation id → {kind: 'assigned'|'monitor', n, channel, tab, panel, transcript, unread, ended} */
const convs = new Map();
/** offer id → {frame, card, deadline} */
const offers = new Map();
/** Conversations the supervisor asked to monitor on this socket, until the server answers. */
const monitorAsked = new Set();
let selected = null;

// ---- small helpers ----

function announce(text) {
  const node = $('announcer');
  node.textContent = '';
  // A change of text, after a tick, is what makes screen readers speak it again.
  setTimeout(() => { node.textContent = text; }, 50);
}

function fmtDuration(totalS) {
  const s = Math.max(0, Math.round(Number(totalS) || 0));
  const m = Math.floor(s / 60);
  return m ? t('duration.min', { m, s: String(s % 60).padStart(2, '0') }) : t('duration.s', { s });
}

/** Conversation ids are long hex strings; people compare the first 8 characters. */
function shortId(id) {
  const s = String(id);
  return s.length > 12 ? `${s.slice(0, 8)}…` : s;
}

function reasonText(reason) {
  const key = `reason.${reason}`;
  const text = t(key);
  return text === key ? String(reason) : text;
}

function send(frame) {
  return socket.send(frame);
}

// ---- sign in / out ----

function showLogin(message) {
  $('login-view').hidden = false;
  $('app-view').hidden = true;
  $('logout').hidden = true;
  $('whoami').hidden = true;
  $('login-error').textContent = message || '';
  $('login-username').focus();
}

function showApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  const who = $('whoami');
  who.hidden = false;
  const role = ['peer', 'supervisor', 'admin'].includes(profile.role) ? profile.role : 'peer';
  who.textContent = `${profile.display_name || profile.username} (${t(`role.${role}`)})`;
  $('supervisor').hidden = !isSupervisor();
  if (profile.trained === false) $('shift-error').textContent = t('shift.untrained');
  document.body.classList.toggle('is-supervisor', isSupervisor());
}

function isSupervisor() {
  return Boolean(profile && (profile.role === 'supervisor' || profile.role === 'admin'));
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  if (!username || !password) {
    $('login-error').textContent = t('login.missing');
    return;
  }
  $('login-error').textContent = '';
  let res;
  try {
    res = await fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
      credentials: 'same-origin',
    });
  } catch {
    $('login-error').textContent = t('login.failed');
    return;
  }
  if (res.status === 401) {
    $('login-error').textContent = t('login.bad');
    $('login-password').value = '';
    $('login-password').focus();
    return;
  }
  if (res.status === 429) {
    $('login-error').textContent = t('login.throttled');
    return;
  }
  if (!res.ok) {
    $('login-error').textContent = t('login.failed');
    return;
  }
  let body = {};
  try { body = await res.json(); } catch { /* keep the username at least */ }
  profile = toProfile(body, username);
  session.setJSON(K.profile, profile);
  $('login-password').value = '';
  enterApp();
});

$('logout').addEventListener('click', async () => {
  disconnect();
  try {
    await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' });
  } catch { /* the session expires on the server anyway */ }
  signedOut(t('login.out'));
});

function signedOut(message) {
  disconnect();
  profile = null;
  session.set(K.profile, null);
  resetState();
  showLogin(message);
}

function resetState() {
  for (const id of [...convs.keys()]) removeConv(id);
  for (const id of [...offers.keys()]) removeOffer(id);
  $('alert-list').replaceChildren();
  $('alerts').hidden = true;
  shift = { state: 'off', capacity: null, active: 0, debrief_until: null };
  queue = { waiting: null, peers_on_shift: null };
  renderShift();
  renderQueue();
}

function enterApp() {
  showApp();
  renderShift();
  renderQueue();
  connect();
  $('main').focus();
}

// ---- socket ----

socket.addEventListener('frame', (event) => handle(event.detail));
socket.addEventListener('ready', () => {
  $('conn').hidden = true;
  renderShift();
  resumeMonitoring();
});
socket.addEventListener('lost', () => {
  monitorAsked.clear(); // the old socket will answer nothing more
  renderShift();
});
socket.addEventListener('reconnecting', () => {
  $('conn').textContent = t('offline');
  $('conn').hidden = false;
});
// 'closed': signed out elsewhere or the account was disabled (4401). 'refused': the server
// answers but refused the handshake (HTTP 403): the session cookie is missing or no longer valid.
socket.addEventListener('sessionended', (event) => {
  signedOut(t(event.detail === 'closed' ? 'login.out' : 'login.again'));
});

function connect() {
  socket.connect();
}

function disconnect() {
  socket.disconnect();
}

function handle(frame) {
  switch (frame.type) {
    case 'shift': onShift(frame); break;
    case 'queue':
      queue = { waiting: frame.waiting, peers_on_shift: frame.peers_on_shift };
      renderQueue();
      break;
    case 'offer': onOffer(frame); break;
    case 'revoked': removeOffer(frame.offer); break;
    case 'assigned': onAssigned(frame); break;
    case 'monitoring': onMonitoring(frame); break;
    case 'released': removeConv(frame.conversation); break;
    case 'message': onMessage(frame); break;
    case 'ack': onAck(frame); break;
    case 'typing': onTyping(frame); break;
    case 'ended': onEnded(frame); break;
    case 'delivery': onDelivery(frame); break;
    case 'note': onNote(frame); break;
    case 'escalation': onEscalation(frame); break;
    case 'alert': onAlert(frame); break;
    case 'overview': onOverview(frame); break;
    case 'error': onError(frame); break;
    default: break; // later additions to the protocol are ignored
  }
}

// ---- shift, queue, debrief ----

function onShift(frame) {
  shift = {
    state: frame.state,
    capacity: frame.capacity,
    active: frame.active,
    debrief_until: typeof frame.debrief_until === 'number' ? frame.debrief_until : null,
  };
  if (Number(frame.capacity) >= 1 && Number(frame.capacity) <= 5) $('capacity').value = String(frame.capacity);
  $('shift-error').textContent = '';
  renderShift();
}

function renderShift() {
  const label = { on: 'shift.on', break: 'shift.break.state', off: 'shift.off' }[shift.state] || 'shift.off';
  $('shift-state').textContent = t(label);
  $('shift-state').dataset.state = shift.state;
  $('shift-load').textContent = shift.capacity ? `${shift.active ?? 0} / ${shift.capacity}` : String(shift.active ?? 0);
  const start = $('shift-start');
  start.textContent = t(shift.state === 'on' ? 'shift.update' : shift.state === 'break' ? 'shift.resume' : 'shift.start');
  // Until the socket is open a click would go nowhere: the buttons wait for it.
  start.disabled = !socket.ready;
  $('shift-break').disabled = !socket.ready || shift.state !== 'on';
  $('shift-end').disabled = !socket.ready || shift.state === 'off';
  $('debrief-end').disabled = !socket.ready;
  document.body.dataset.shift = shift.state;
  renderDebrief();
}

function renderDebrief() {
  const box = $('debrief');
  const until = shift.debrief_until;
  const leftS = until ? until - Date.now() / 1000 : 0;
  if (!until || leftS <= 0) {
    box.hidden = true;
    return;
  }
  const time = formatTime(new Date(until * 1000).toISOString(), i18n.lang);
  $('debrief-text').textContent = t('debrief.text', { time, left: fmtDuration(leftS) });
  box.hidden = false;
}

function renderQueue() {
  $('q-waiting').textContent = queue.waiting ?? t('value.none');
  $('q-peers').textContent = queue.peers_on_shift ?? t('value.none');
}

function capacity() {
  return Number($('capacity').value) || 1;
}

$('shift-start').addEventListener('click', () => send({ type: 'shift', action: 'start', capacity: capacity() }));
$('shift-break').addEventListener('click', () => send({ type: 'shift', action: 'break' }));
$('shift-end').addEventListener('click', () => send({ type: 'shift', action: 'end' }));
$('debrief-end').addEventListener('click', () => send({ type: 'shift', action: 'start', capacity: capacity() }));

// ---- offers ----

function onOffer(frame) {
  const id = String(frame.offer);
  removeOffer(id);
  const expiresS = Math.max(0, Number(frame.expires_in_s) || 0);
  const deadline = Date.now() + expiresS * 1000;
  const channel = t(`channel.${frame.channel === 'sms' ? 'sms' : 'web'}`);
  const countdown = el('span', { class: 'offer-countdown' });
  const bar = el('progress', { class: 'offer-bar', max: String(expiresS || 1), value: String(expiresS) });
  const titleId = `offer-title-${++counter}`;
  const accept = el('button', { type: 'button', class: 'btn btn-primary', text: t('offer.accept') });
  const decline = el('button', { type: 'button', class: 'btn btn-quiet', text: t('offer.decline') });
  const card = el('li', { class: `offer${frame.risk ? ' offer-risk' : ''}`, 'aria-labelledby': titleId },
    el('h3', { id: titleId, text: t('offer.heading', { channel }) }),
    frame.transfer_from ? el('p', { class: 'offer-meta', text: t('offer.transfer', { name: String(frame.transfer_from) }) }) : null,
    el('p', { class: 'offer-meta' },
      t('offer.waited', { time: fmtDuration(frame.waited_s) }),
      frame.risk ? el('strong', { class: 'badge badge-risk', text: ` ${t('offer.risk')}` }) : null),
    el('p', { class: 'offer-timer' }, countdown, bar),
    el('div', { class: 'offer-actions' }, accept, ' ', decline),
  );
  bar.setAttribute('aria-labelledby', titleId);
  card.dataset.offer = id;
  accept.addEventListener('click', () => {
    if (!send({ type: 'accept', offer: id })) return;
    lastAccepted = id;
    accept.disabled = true;
    decline.disabled = true;
    accept.textContent = t('offer.accepting');
  });
  decline.addEventListener('click', () => {
    send({ type: 'decline', offer: id });
    removeOffer(id);
  });
  offers.set(id, { frame, card, deadline, countdown, bar, conversation: String(frame.conversation) });
  $('offer-list').append(card);
  tickOffer(offers.get(id));
  renderOffers();
  announce(t('offer.announce', { s: Math.round(expiresS) }));
}

function tickOffer(offer) {
  const leftS = Math.max(0, Math.ceil((offer.deadline - Date.now()) / 1000));
  offer.countdown.textContent = t('offer.expires', { s: leftS });
  offer.bar.value = leftS;
  if (leftS <= 0) removeOffer(offer.card.dataset.offer);
}

function removeOffer(id) {
  const offer = offers.get(String(id));
  if (!offer) return;
  const hadFocus = offer.card.contains(document.activeElement);
  offer.card.remove();
  offers.delete(String(id));
  renderOffers();
  if (hadFocus) $('offers-title').focus();
}

function renderOffers() {
  $('offers-empty').hidden = offers.size > 0;
  document.body.classList.toggle('has-offers', offers.size > 0);
}

// ---- conversations and tabs ----

function makePanel(id, kind, channel, lang) {
  const n = ++convCounter;
  const domId = `conv-${++counter}`;
  const panel = $('conv-template').content.firstElementChild.cloneNode(true);
  i18n.apply(panel);
  panel.id = `panel-${domId}`;
  // Unique ids so every label points at its own field.
  for (const [cls, field] of [['canned-label', 'canned'], ['composer-label', 'composer-text'],
    ['note-label', 'note-text'], ['transfer-label', 'transfer-to'], ['end-label', 'end-outcome']]) {
    const input = panel.querySelector(`.${field}`);
    input.id = `${domId}-${field}`;
    panel.querySelector(`.${cls}`).htmlFor = input.id;
  }
  const tab = el('button', {
    type: 'button', role: 'tab', id: `tab-${domId}`, class: 'tab',
    'aria-controls': panel.id, 'aria-selected': 'false', tabindex: '-1',
  }, el('span', { class: 'tab-label' }), el('span', { class: 'tab-badge' }));
  panel.setAttribute('aria-labelledby', tab.id);
  panel.tabIndex = 0;
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
  wirePanel(conv);
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
}

function wirePanel(conv) {
  const p = conv.panel;
  const composer = p.querySelector('.composer');
  const text = p.querySelector('.composer-text');
  if (conv.kind === 'monitor') {
    // Read-only view: the composer becomes the whisper box, the actions go.
    p.querySelector('.canned-row').remove();
    p.querySelector('.composer-label').textContent = t('whisper.label');
    composer.querySelector('button[type="submit"]').textContent = t('whisper.send');
    p.querySelector('.panel-actions').remove();
    p.querySelector('.notes .note-form').remove();
    p.querySelector('.panel-closed').hidden = false;
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = text.value.trim();
      if (value && send({ type: 'whisper', conversation: conv.id, text: value })) {
        text.value = '';
      }
    });
  } else {
    fillCanned(p.querySelector('.canned'), conv.lang);
    p.querySelector('.canned-insert').addEventListener('click', () => {
      const select = p.querySelector('.canned');
      const item = select.selectedOptions[0];
      if (!item || !item.value) return;
      const start = text.selectionStart ?? text.value.length;
      const end = text.selectionEnd ?? text.value.length;
      text.value = text.value.slice(0, start) + item.dataset.text + text.value.slice(end);
      text.focus();
    });
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      sendMessage(conv);
    });
    text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        sendMessage(conv);
      }
    });
    text.addEventListener('input', () => {
      const now = Date.now();
      if (now - conv.lastTypingSent > TYPING_SEND_EVERY_MS && send({ type: 'typing', conversation: conv.id })) {
        conv.lastTypingSent = now;
      }
    });
    p.querySelector('.note-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const note = p.querySelector('.note-text');
      const value = note.value.trim();
      if (value && send({ type: 'note', conversation: conv.id, text: value })) note.value = '';
    });
    p.querySelector('.transfer-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const to = p.querySelector('.transfer-to').value.trim();
      if (!to) {
        $('shift-error').textContent = t('transfer.missing');
        p.querySelector('.transfer-to').focus();
        return;
      }
      send({ type: 'transfer', conversation: conv.id, to });
    });
    p.querySelector('.transfer-queue').addEventListener('click', () => {
      send({ type: 'transfer', conversation: conv.id, to: null });
    });
    p.querySelector('.escalate').addEventListener('click', () => {
      if (send({ type: 'escalate', conversation: conv.id })) announce(t('escalate.done'));
    });
    p.querySelector('.end-form').addEventListener('submit', (event) => {
      event.preventDefault();
      send({ type: 'end', conversation: conv.id, outcome: p.querySelector('.end-outcome').value });
    });
  }
  p.querySelector('.close-tab').addEventListener('click', () => removeConv(conv.id));
}

function sendMessage(conv) {
  const box = conv.panel.querySelector('.composer-text');
  const text = box.value.trim();
  if (!text || conv.ended) return;
  const clientId = uuid();
  conv.transcript.addPending(clientId, text).scrollIntoView({ block: 'nearest' });
  box.value = '';
  conv.lastTypingSent = 0; // the seeker hid its indicator on this message: say so again at once
  if (send({ type: 'message', conversation: conv.id, client_id: clientId, text })) conv.transcript.markSent(clientId);
  box.focus();
}

function resendPending() {
  // After a reconnect: the server deduplicates by client_id, so re-sending is safe.
  for (const conv of convs.values()) {
    if (conv.kind !== 'assigned' || conv.ended) continue;
    for (const item of conv.transcript.pending()) {
      if (send({ type: 'message', conversation: conv.id, client_id: item.clientId, text: item.text })) {
        conv.transcript.markSent(item.clientId);
      }
    }
  }
}

function fillCanned(select, convLang) {
  select.replaceChildren(el('option', { value: '', text: t('canned.none') }));
  // The conversation's language first (the seeker's), else the console's.
  const first = convLang || i18n.lang;
  const order = first === 'fr' ? ['fr', 'en'] : ['en', 'fr'];
  for (const lang of order) {
    const items = Array.isArray(canned[lang]) ? canned[lang] : [];
    if (!items.length) continue;
    const group = el('optgroup', { label: t(`canned.${lang}`) });
    items.forEach((item, i) => {
      const option = el('option', { value: `${lang}-${i}`, text: String(item.label || item.text || ''), lang });
      option.dataset.text = String(item.text || '');
      group.append(option);
    });
    select.append(group);
  }
}

function renderTab(conv) {
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
  updateTitle();
}

function selectConv(id, focus) {
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

function removeConv(id) {
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

function onAssigned(frame) {
  const id = String(frame.conversation);
  for (const [offerId, offer] of offers) if (offer.conversation === id) removeOffer(offerId);
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
function applyConvFrame(conv, frame) {
  conv.risk = Boolean(frame.risk);
  if (typeof frame.label === 'string' && frame.label) conv.label = frame.label;
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

function onMonitoring(frame) {
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
  if (missed && (selected !== conv.id || document.hidden)) {
    conv.unread += missed;
    renderTab(conv);
    if (selected !== conv.id) announce(t('new.message', { n: conv.n }));
  }
}

/**
 * Monitoring belongs to one socket on the server: a console that reconnects (network blip,
 * server restart, its web process gone) watches nothing until it asks again, and a tab left
 * as it was would look live while it stays silent. Ask again for every monitored tab; the
 * `monitoring` answer brings the history, merged by seq (onMonitoring), and a conversation
 * that ended meanwhile is refused with `not_available` (onError).
 */
function resumeMonitoring() {
  for (const conv of convs.values()) {
    if (conv.kind === 'monitor' && !conv.ended) send({ type: 'monitor', conversation: conv.id });
  }
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
  if (selected !== conv.id) announce(t(key));
}

function onMessage(frame) {
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

function onAck(frame) {
  const conv = convs.get(String(frame.conversation));
  if (conv) conv.transcript.ack(frame.client_id, Number(frame.seq), conv.channel === 'sms' ? 'stored' : 'delivered');
}

function onDelivery(frame) {
  const conv = convs.get(String(frame.conversation));
  if (conv && ['queued', 'sent', 'delivered', 'failed'].includes(frame.state)) {
    conv.transcript.delivery(frame.seq, frame.state);
    // A replay (after a reconnect, a transfer or on monitoring) restates what was already announced.
    if (frame.state === 'failed' && !frame.replay) announce(t('state.sms-failed'));
  }
}

function onTyping(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv) return;
  const node = conv.panel.querySelector('.typing');
  node.textContent = t('typing.seeker');
  clearTimeout(conv.typingTimer);
  conv.typingTimer = setTimeout(() => hideTyping(conv), TYPING_SHOW_MS);
}

function hideTyping(conv) {
  clearTimeout(conv.typingTimer);
  conv.panel.querySelector('.typing').textContent = '';
}

function onEnded(frame) {
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

function setPanelEnded(conv, ended) {
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

function onNote(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv) return;
  const name = addNote(conv, frame);
  if (name === null) return;
  const details = conv.panel.querySelector('.notes');
  const mine = profile && name === profile.display_name && !frame.whisper;
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

function onEscalation(frame) {
  const conv = convs.get(String(frame.conversation));
  if (!conv || conv.escalations.has(frame.reason)) return;
  conv.escalations.add(frame.reason);
  const box = el('div', { class: 'banner banner-alert', role: 'alert' },
    t('escalation.text', { reason: reasonText(frame.reason) }));
  conv.panel.querySelector('.panel-alerts').append(box);
  conv.transcript.addItem(el('li', { class: 'event event-alert', text: t('escalation.text', { reason: reasonText(frame.reason) }) }));
}

// ---- supervisor ----

function onAlert(frame) {
  const id = String(frame.conversation);
  const list = $('alert-list');
  // role=alert on a div inside the list item (a list may only hold list items): announced at
  // once, and it stays on screen until dismissed.
  const item = el('li', { class: 'alert' }, el('div', { role: 'alert', class: 'alert-body' },
    el('strong', { class: 'alert-title', text: t('alert.title') }), ' ',
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

function onOverview(frame) {
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
    rows.append(el('tr', { class: c.risk || escalated ? 'row-risk' : null },
      el('th', { scope: 'row', text: shortId(id), title: id }),
      el('td', { text: String(c.channel || '') }),
      el('td', { text: String(c.state || '') }),
      el('td', { text: c.peer ? String(c.peer) : t('sup.unassigned') }),
      el('td', { text: fmtDuration(c.waited_s) }),
      el('td', { text: c.risk ? t('sup.risk.yes') : t('sup.risk.no') }),
      el('td', { text: (Array.isArray(c.escalated) ? c.escalated : []).map(reasonText).join(', ') || t('value.none') }),
      el('td', {}, watch)));
  }
}

$('monitor-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = $('monitor-id').value.trim();
  if (id && askMonitor(id)) $('monitor-id').value = '';
});

function onError(frame) {
  if (frame.code === 'not_available' && typeof frame.conversation === 'string') {
    // A refused monitor: the conversation is not live (any more). Asked again by
    // resumeMonitoring(), it ended while the console was away: the tab says so, not the form.
    const conv = convs.get(frame.conversation);
    if (conv && conv.kind === 'monitor') stopMonitoring(conv, 'monitor.gone');
    if (monitorAsked.delete(frame.conversation)) $('shift-error').textContent = t('error.monitor');
    return;
  }
  if (frame.code === 'offer_gone') {
    if (lastAccepted) removeOffer(lastAccepted);
    lastAccepted = null;
    $('shift-error').textContent = t('offer.gone');
    return;
  }
  if (frame.code === 'not_allowed' && profile && profile.trained === false) {
    $('shift-error').textContent = t('shift.untrained');
    return;
  }
  const key = `error.${frame.code}`;
  const text = t(key);
  $('shift-error').textContent = text === key ? t('error.generic', { code: String(frame.code || '') }) : text;
}

// ---- title flash: noticeable without sound ----

let flashOn = false;
function updateTitle() {
  const base = t(BASE_TITLE_KEY);
  const unread = [...convs.values()].reduce((sum, c) => sum + c.unread, 0);
  const alerts = $('alert-list').children.length;
  let title = unread ? `(${unread}) ${base}` : base;
  if ((offers.size || alerts) && flashOn) title = `${alerts ? t('alert.flash') : t('offer.title')} — ${base}`;
  if (document.title !== title) document.title = title;
}

setInterval(() => {
  flashOn = !flashOn;
  for (const offer of offers.values()) tickOffer(offer);
  renderDebrief();
  updateTitle();
}, 1000);

// ---- language ----

function applyLanguage() {
  i18n.apply();
  const sw = $('lang-switch');
  sw.textContent = t('lang.switch');
  sw.lang = i18n.lang === 'fr' ? 'en' : 'fr';
  if (profile) showApp();
  renderShift();
  for (const conv of convs.values()) {
    i18n.apply(conv.panel);
    if (conv.kind === 'monitor') {
      conv.panel.querySelector('.composer-label').textContent = t('whisper.label');
      conv.panel.querySelector('.composer button[type="submit"]').textContent = t('whisper.send');
    } else {
      fillCanned(conv.panel.querySelector('.canned'), conv.lang);
    }
    renderTab(conv);
    renderPanelTitle(conv);
    conv.transcript.relabel();
  }
  updateTitle();
}

$('lang-switch').addEventListener('click', () => {
  i18n.lang = i18n.lang === 'fr' ? 'en' : 'fr';
  session.set(K.lang, i18n.lang);
  applyLanguage();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && selected && convs.has(selected)) {
    convs.get(selected).unread = 0;
    renderTab(convs.get(selected));
  }
});

// ---- start ----

async function loadCanned() {
  try {
    const res = await fetch('/static/canned.json', { credentials: 'omit' });
    if (res.ok) canned = await res.json();
  } catch { /* no canned responses: the composer still works */ }
  for (const conv of convs.values()) {
    if (conv.kind === 'assigned') fillCanned(conv.panel.querySelector('.canned'), conv.lang);
  }
}

function toProfile(body, fallbackName) {
  return {
    username: String(body.username || fallbackName),
    display_name: String(body.display_name || body.username || fallbackName),
    role: String(body.role || 'peer'),
    trained: body.trained !== false,
  };
}

async function start() {
  applyLanguage();
  loadCanned();
  // The session cookie is HttpOnly: ask the server whether it is still valid (GET /api/me).
  try {
    const res = await fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' });
    if (res.ok) {
      profile = toProfile(await res.json(), '');
      session.setJSON(K.profile, profile);
      enterApp();
      return;
    }
    if (res.status === 401) {
      const hadSession = session.get(K.profile) !== null;
      session.set(K.profile, null);
      showLogin(hadSession ? t('login.again') : '');
      return;
    }
  } catch { /* unreachable now: fall back to what this tab knew */ }
  const saved = session.getJSON(K.profile, null);
  if (saved && typeof saved.username === 'string') {
    profile = saved;
    enterApp(); // the socket handshake tells whether the session is still valid
  } else {
    showLogin('');
  }
}

start();
