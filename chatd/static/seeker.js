// The seeker's chat window (GET /): talks to /ws/seeker as CONTRACT.md section 2 says.
//
// Kept in sessionStorage, and nowhere else: the resume token, the UI language, the draft,
// and the own messages the server has not acknowledged yet (so a reload or a dropped
// connection loses none). Quick exit clears all of it. The transcript is not stored: after
// a reload the page resumes with last_seq 0 and the server replays the conversation.
//
// This module is the conversation itself; around it: seeker/quick-exit.js (loaded first, on
// its own), seeker/notice.js (the notice before the first message), seeker/after.js (rating,
// deleting, starting over), socket.js (reconnecting), i18n/seeker.*.js (the words).

import { $, I18n, Transcript, el, pickLang, session, telHref, uuid } from './common.js';
import en from './i18n/seeker.en.js';
import fr from './i18n/seeker.fr.js';
import { showForgetFailed, showForgotten, wireAfter } from './seeker/after.js';
import { resetCheckin, sendWithFirstMessage, showCheckin, wireCheckin } from './seeker/checkin.js';
import { renderNotice } from './seeker/notice.js';
import { onQuickExit, publicConfig } from './seeker/quick-exit.js';
import { ReconnectingSocket } from './socket.js';

const K = { token: 'chatd.resume', lang: 'chatd.lang', draft: 'chatd.draft', outbox: 'chatd.outbox' };
const TYPING_SEND_EVERY_MS = 2000;
const TYPING_SHOW_MS = 5000;

const i18n = new I18n({ en, fr }, pickLang(session.get(K.lang)));
const t = (key, params) => i18n.t(key, params);

// Used until /api/public-config answers (and if it cannot be reached); seeker/quick-exit.js
// reads it, and keeps the quick-exit address.
const config = {
  crisis_line: '1-844-750-1648',
  crisis_email: 'DND.SMRC-CIIS.MDN@forces.gc.ca',
  notice_en: '',
  notice_fr: '',
};

const transcript = new Transcript($('transcript'), {
  own: 'seeker',
  label: (from) => t(`who.${from}`),
  state: (s) => t(`state.${s}`),
  lang: () => i18n.lang,
});

// Conversation state as the seeker sees it: idle (nothing sent yet), waiting, active,
// ended, forgotten. The connection state is apart: a waiting or active conversation
// can be offline for a while and resume.
let state = 'idle';
// The welcome's `service` field: {open, next_open, timezone} (docs/protocol.md).
let service = null;
let statusFrame = null;
let lastTypingSent = 0;
let typingTimer = null;
let controlQueue = [];

// Ready once the server answered hello with `welcome`; unacknowledged messages go again then,
// and after a refusal (socket.js).
const socket = new ReconnectingSocket('/ws/seeker', { hello: helloFrame, resend: flushOutbox });
socket.addEventListener('frame', (event) => handle(event.detail));
socket.addEventListener('reconnecting', () => showOffline(true));

onQuickExit(() => {
  // Ending the conversation tells the peer at once instead of after the grace time;
  // the token is gone, so it could not be resumed anyway. send() does not block.
  if (state === 'waiting' || state === 'active') socket.send({ type: 'end' });
});

// ---- rendering ----

function showNotice() {
  renderNotice($('notice-text'), i18n.lang === 'fr' ? config.notice_fr : config.notice_en, t('notice.more'));
}

function renderCrisis() {
  for (const id of ['crisis-tel', 'res-tel']) {
    $(id).href = telHref(config.crisis_line);
    $(id).textContent = config.crisis_line;
  }
  for (const id of ['crisis-mail', 'res-mail']) {
    $(id).href = `mailto:${config.crisis_email}`;
    $(id).textContent = config.crisis_email;
  }
}

function renderStatus() {
  let text = '';
  if (state === 'idle') text = socket.wanted && !socket.ready ? t('status.connecting') : t('status.idle');
  else if (state === 'waiting' && statusFrame && statusFrame.state === 'waiting') {
    const peers = Number(statusFrame.peers_on_shift) || 0;
    const position = Number(statusFrame.position) || 0;
    if (peers === 0) text = t('status.waiting.nopeer');
    else if (position <= 1) text = t('status.waiting.next', { peers });
    else text = t('status.waiting', { position, peers });
    // An estimate only when the server has enough recent data to make one (docs/protocol.md).
    const est = statusFrame.estimate;
    if (peers > 0 && est && Number(est.minutes) > 0) {
      const minutes = Number(est.minutes);
      text += ` ${t(est.more_than ? 'status.estimate.more' : minutes === 1 ? 'status.estimate.one' : 'status.estimate', { minutes })}`;
    }
  } else if (state === 'waiting') text = t('status.connecting');
  else if (state === 'active') text = t('status.active', { peer: (statusFrame && statusFrame.peer) || t('who.peer') });
  else if (state === 'ended') text = t('status.ended');
  else if (state === 'forgotten') text = t('status.forgotten');
  const node = $('status');
  // Setting the same text again would make some screen readers repeat it.
  if (node.textContent !== text) node.textContent = text;
  node.dataset.state = state;
  document.body.dataset.state = state;
}

function showOffline(offline) {
  const node = $('offline');
  if (offline) {
    node.textContent = t('offline');
    node.hidden = false;
  } else if (!node.hidden) {
    node.hidden = true;
    flash(t('reconnected'));
  }
  document.body.classList.toggle('is-offline', offline);
}

let flashTimer = null;
function flash(text) {
  const node = $('notice-line');
  node.textContent = text;
  node.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { node.hidden = true; node.textContent = ''; }, 8000);
}

// Outside service hours: the 24/7 line first, then when peers are next available, in the
// program's time zone (named, since the seeker may be elsewhere).
function renderClosed() {
  const box = $('closed');
  box.hidden = !service || service.open !== false;
  if (box.hidden) return;
  $('closed-tel').href = telHref(config.crisis_line);
  $('closed-tel').textContent = config.crisis_line;
  let next = t('closed.unknown');
  if (service.next_open) {
    const when = new Intl.DateTimeFormat(i18n.lang === 'fr' ? 'fr-CA' : 'en-CA', {
      timeZone: service.timezone, weekday: 'long', month: 'long', day: 'numeric', hour: 'numeric',
      minute: '2-digit', timeZoneName: 'short',
    }).format(new Date(service.next_open));
    next = t('closed.next', { when });
  }
  $('closed-next').textContent = next;
}

function applyLanguage() {
  i18n.apply();
  renderClosed();
  document.title = t('title');
  const sw = $('lang-switch');
  sw.textContent = t('lang.switch');
  sw.lang = i18n.lang === 'fr' ? 'en' : 'fr';
  showNotice();
  renderStatus();
  transcript.relabel();
  for (const box of document.querySelectorAll('.escalation')) box.querySelector('.esc-title').textContent = t('escalation.title');
  if (!$('offline').hidden) $('offline').textContent = t('offline');
}

function setState(next) {
  state = next;
  const live = state === 'idle' || state === 'waiting' || state === 'active';
  $('composer-text').disabled = !live;
  $('send').disabled = !live;
  $('leave').hidden = !(state === 'waiting' || state === 'active');
  if (!live) $('leave-confirm').hidden = true;
  $('composer').hidden = !live;
  $('after').hidden = !(state === 'ended' || state === 'forgotten');
  if (state !== 'idle') $('notice').open = false;
  showCheckin(state === 'idle');
  renderStatus();
}

// ---- socket ----

function send(frame) {
  return socket.send(frame);
}

/** The first frame of every socket: a new conversation, or the resume of this one. */
function helloFrame() {
  const token = session.get(K.token);
  // After the last seq with no gap below it: a frame lost with the old socket is replayed.
  return token
    ? { type: 'hello', resume: token, last_seq: transcript.seen.contiguous }
    : { type: 'hello', lang: i18n.lang };
}

function connect() {
  socket.connect();
  renderStatus(); // idle turns to "connecting"
}

function disconnect() {
  socket.disconnect();
  showOffline(false);
}

/** Own messages not acknowledged yet (same client_id: stored once), and queued control frames. */
function flushOutbox() {
  // A check-in first: with the first message, its answers go into the offer (and a "not safe"
  // puts the conversation in the risk band as it is queued).
  const queued = controlQueue;
  controlQueue = [];
  for (const frame of queued) if (frame.type === 'checkin') send(frame);
  for (const item of transcript.pending()) {
    if (send({ type: 'message', client_id: item.clientId, text: item.text })) transcript.markSent(item.clientId);
  }
  for (const frame of queued) if (frame.type !== 'checkin') send(frame);
}

function saveOutbox() {
  const items = transcript.pending().map(({ clientId, text }) => ({ client_id: clientId, text }));
  session.setJSON(K.outbox, items.length ? items : null);
}

function handle(frame) {
  switch (frame.type) {
    case 'welcome': {
      if (frame.resume) session.set(K.token, frame.resume);
      if (frame.crisis_line) config.crisis_line = frame.crisis_line;
      if (frame.crisis_email) config.crisis_email = frame.crisis_email;
      service = frame.service || null;
      renderCrisis();
      renderClosed();
      showOffline(false);
      // Opened for a check-in alone, the conversation is not in line until the first message.
      if (state === 'idle' && transcript.pending().length) setState('waiting');
      socket.markReady(); // sends what is pending: flushOutbox()
      renderStatus();
      break;
    }
    case 'ack':
      transcript.ack(frame.client_id, Number(frame.seq));
      saveOutbox();
      break;
    case 'message': {
      const li = transcript.addMessage(frame);
      saveOutbox();
      if (li) {
        li.scrollIntoView({ block: 'nearest' });
        if (frame.from === 'peer') {
          hideTyping();
          if (document.hidden) document.title = t('title.new');
        }
      }
      break;
    }
    case 'status':
      statusFrame = frame;
      if (frame.state === 'waiting' || frame.state === 'active') {
        if (state !== 'ended' && state !== 'forgotten') setState(frame.state);
      } else {
        renderStatus();
      }
      break;
    case 'escalation':
      showEscalation(frame);
      break;
    case 'typing':
      showTyping();
      break;
    case 'ended': {
      hideTyping();
      // A resume of an ended conversation says so again: show it once.
      if (state === 'ended' || state === 'forgotten') break;
      const by = ['seeker', 'peer', 'system'].includes(frame.by) ? frame.by : 'system';
      transcript.addItem(el('li', { class: 'event', text: t(`ended.${by}`) }));
      setState('ended');
      $('after-title').focus();
      break;
    }
    case 'forgotten':
      transcript.clear();
      escalationsShown.clear();
      session.set(K.token, null);
      session.set(K.outbox, null);
      showForgotten();
      setState('forgotten');
      disconnect();
      break;
    case 'error':
      handleError(frame);
      break;
    default:
      break; // later additions to the protocol are ignored
  }
}

function handleError(frame) {
  if (frame.code === 'unknown_resume') {
    const wasEnded = state === 'ended';
    const unsent = transcript.pending().map((p) => p.text);
    disconnect();
    session.set(K.token, null);
    session.set(K.outbox, null);
    if (wasEnded || controlQueue.some((f) => f.type === 'forget')) {
      controlQueue = [];
      showForgetFailed();
      return;
    }
    controlQueue = [];
    transcript.clear();
    escalationsShown.clear();
    statusFrame = null;
    setState('idle');
    // Nothing typed is lost: what was not acknowledged goes back into the message box.
    if (unsent.length) {
      const box = $('composer-text');
      box.value = [...unsent, box.value].filter(Boolean).join('\n');
      session.set(K.draft, box.value);
    }
    flash(t('error.unknown_resume'));
    $('composer-text').focus();
  } else if (frame.code === 'rate_limited' || frame.code === 'unavailable') {
    // The message was refused, not lost: it is still pending, and socket.js sends it again
    // (same client_id, stored once) after a pause that grows while refusals go on.
    if (frame.code === 'rate_limited') flash(t('error.rate_limited'));
  } else if (frame.code === 'too_large') {
    flash(t('error.too_large'));
  } else {
    flash(t('error.generic'));
  }
}

const escalationsShown = new Set();

function showEscalation(frame) {
  if (frame.crisis_line) config.crisis_line = frame.crisis_line;
  if (frame.crisis_email) config.crisis_email = frame.crisis_email;
  renderCrisis();
  // A resume repeats the last escalation; it is already on screen.
  const key = `${frame.reason}\n${frame.text}`;
  if (escalationsShown.has(key)) return;
  escalationsShown.add(key);
  // The alert role sits on a div inside the list item: a list may only hold list items.
  const box = el('li', { class: 'escalation' }, el('div', { role: 'alert' },
    el('strong', { class: 'esc-title', text: t('escalation.title') }),
    el('p', { class: 'esc-text', text: frame.text || '' }),
    el('p', { class: 'esc-links' },
      el('a', { class: 'btn btn-primary', href: telHref(config.crisis_line), text: t('escalation.call', { line: config.crisis_line }) }),
      ' ',
      el('a', { href: `mailto:${config.crisis_email}`, text: config.crisis_email })),
  ));
  box.dataset.reason = String(frame.reason || '');
  transcript.addItem(box);
  box.scrollIntoView({ block: 'nearest' });
}

function showTyping() {
  $('typing').textContent = t('typing.peer');
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
}

function hideTyping() {
  clearTimeout(typingTimer);
  $('typing').textContent = '';
}

// ---- composer ----

function submitMessage() {
  const box = $('composer-text');
  const text = box.value.trim();
  if (!text || !(state === 'idle' || state === 'waiting' || state === 'active')) return;
  const clientId = uuid();
  sendWithFirstMessage(); // the check-in, if it is still open, goes first with what was picked
  transcript.addPending(clientId, text).scrollIntoView({ block: 'nearest' });
  box.value = '';
  session.set(K.draft, null);
  lastTypingSent = 0; // the other side hid its indicator on this message: say so again at once
  saveOutbox();
  if (send({ type: 'message', client_id: clientId, text })) transcript.markSent(clientId);
  else connect(); // the first message opens the conversation; later ones wait for the socket
  box.focus();
}

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  submitMessage();
});
$('composer-text').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitMessage();
  }
});
$('composer-text').addEventListener('input', () => {
  session.set(K.draft, $('composer-text').value || null);
  const now = Date.now();
  if ((state === 'waiting' || state === 'active') && now - lastTypingSent > TYPING_SEND_EVERY_MS) {
    if (send({ type: 'typing' })) lastTypingSent = now;
  }
});

$('leave').addEventListener('click', () => {
  $('leave-confirm').hidden = false;
  $('leave-confirm').focus();
});
$('leave-confirm').addEventListener('click', () => {
  $('leave-confirm').hidden = true;
  if (!send({ type: 'end' })) controlQueue.push({ type: 'end' });
});

// ---- after the end ----

function sendControl(frame) {
  if (send(frame)) return;
  controlQueue.push(frame);
  if (session.get(K.token)) connect();
}

/** Forget the ended conversation and show an empty chat window (seeker/after.js). */
function startOver() {
  disconnect();
  session.set(K.token, null);
  session.set(K.outbox, null);
  transcript.clear();
  escalationsShown.clear();
  statusFrame = null;
  controlQueue = [];
  $('notice').open = true;
  resetCheckin();
  setState('idle');
  $('composer-text').focus();
}

wireAfter({ t, sendControl, startOver });
wireCheckin({
  sendCheckin: (frame) => {
    if (send(frame)) return;
    controlQueue.push(frame);
    connect();
  },
});

$('lang-switch').addEventListener('click', () => {
  i18n.lang = i18n.lang === 'fr' ? 'en' : 'fr';
  session.set(K.lang, i18n.lang);
  applyLanguage();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) document.title = t('title');
});

// ---- start ----

async function loadConfig() {
  Object.assign(config, await publicConfig); // {} when it cannot be read: the defaults above stay
  // Service hours before the first message (the socket opens only then); welcome updates it.
  if (config.service && !service) service = config.service;
  renderCrisis();
  renderClosed();
  showNotice();
}

function start() {
  applyLanguage();
  setState('idle');
  const draft = session.get(K.draft);
  if (draft) $('composer-text').value = draft;
  // Own messages not yet acknowledged when the tab was reloaded: shown again and re-sent
  // with the same client_id, which the server recognises (it stores nothing twice).
  for (const item of session.getJSON(K.outbox, [])) {
    if (item && typeof item.client_id === 'string' && typeof item.text === 'string') {
      transcript.addPending(item.client_id, item.text);
    }
  }
  if (session.get(K.token)) {
    setState('waiting');
    connect();
  } else if (transcript.pending().length) {
    connect();
  }
  loadConfig();
}

start();
