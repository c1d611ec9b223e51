// The peer console (GET /console): sign-in, then /ws/peer as CONTRACT.md section 3 says.
//
// One tab per conversation (assigned ones, and for supervisors the monitored ones), each
// with its transcript, composer, private notes and actions. Offers are shown with a
// countdown and made noticeable without sound: the tab title flashes and the offer card
// pulses (still when the reader asked for reduced motion), and an assertive live region
// announces it.
//
// This module wires the features together: the socket's frames to the feature they are about,
// the language switch, the once-a-second tick, and the start. The features, in console/:
// account.js (sign in and out), shift.js (shift, queue, debrief), offers.js,
// conversations.js (tabs and their frames), panel.js (one conversation's panel),
// supervision.js (alerts, monitoring, overview), shared.js (what they all use).

import { $, session } from './common.js';
import { resumeSession, showApp, signedOut } from './console/account.js';
import {
  markSelectedRead, onAck, onAssigned, onDelivery, onEnded, onEscalation, onMessage, onNote, onNudge, onTyping,
  onSynced, relabelConvs, removeConv, resendPending,
} from './console/conversations.js';
import { onOffer, onOfferGone, removeOffer, tickOffers } from './console/offers.js';
import { loadCanned } from './console/panel.js';
import { K, account, flashTitle, i18n, showError, socket, t, updateTitle } from './console/shared.js';
import { onQueue, onShift, renderDebrief, renderShift } from './console/shift.js';
import {
  forgetAsked, onAlert, onMonitorRefused, onMonitoring, onOverview, resumeMonitoring,
} from './console/supervision.js';

// ---- socket ----

// A message refused with `unavailable` or `rate_limited` is sent again, as the chat window does.
socket.resend = resendPending;

socket.addEventListener('frame', (event) => handle(event.detail));
socket.addEventListener('ready', () => {
  $('conn').hidden = true;
  loadCanned(); // signed in now; an edit made while offline is picked up too
  renderShift();
  resumeMonitoring();
});
socket.addEventListener('lost', () => {
  forgetAsked(); // the old socket will answer nothing more
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

function handle(frame) {
  switch (frame.type) {
    case 'shift': onShift(frame); break;
    case 'queue': onQueue(frame); break;
    case 'offer': onOffer(frame); break;
    case 'revoked': removeOffer(frame.offer); break;
    case 'assigned': onAssigned(frame); break;
    case 'monitoring': onMonitoring(frame); break;
    case 'released': removeConv(frame.conversation); break;
    case 'message': onMessage(frame); break;
    case 'ack': onAck(frame); break;
    case 'typing': onTyping(frame); break;
    case 'ended': onEnded(frame); break;
    case 'synced': onSynced(frame); break;
    case 'delivery': onDelivery(frame); break;
    case 'note': onNote(frame); break;
    case 'escalation': onEscalation(frame); break;
    case 'nudge': onNudge(frame); break;
    case 'alert': onAlert(frame); break;
    case 'overview': onOverview(frame); break;
    case 'canned_changed': loadCanned(); break;
    case 'error': onError(frame); break;
    default: break; // later additions to the protocol are ignored
  }
}

function onError(frame) {
  if (frame.code === 'not_available' && typeof frame.conversation === 'string') {
    onMonitorRefused(frame);
    return;
  }
  if (frame.code === 'offer_gone') {
    onOfferGone();
    return;
  }
  if (frame.code === 'not_allowed' && account.profile && account.profile.trained === false) {
    showError(t('shift.untrained'));
    return;
  }
  const key = `error.${frame.code}`;
  const text = t(key);
  showError(text === key ? t('error.generic', { code: String(frame.code || '') }) : text);
}

// ---- once a second: countdowns, the debrief banner, the title's flashing ----

setInterval(() => {
  tickOffers();
  renderDebrief();
  flashTitle();
}, 1000);

// ---- language ----

function applyLanguage() {
  i18n.apply();
  const sw = $('lang-switch');
  sw.textContent = t('lang.switch');
  sw.lang = i18n.lang === 'fr' ? 'en' : 'fr';
  if (account.profile) showApp();
  renderShift();
  relabelConvs();
  updateTitle();
}

$('lang-switch').addEventListener('click', () => {
  i18n.lang = i18n.lang === 'fr' ? 'en' : 'fr';
  session.set(K.lang, i18n.lang);
  applyLanguage();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) markSelectedRead();
});

// ---- start ----

applyLanguage();
resumeSession();
