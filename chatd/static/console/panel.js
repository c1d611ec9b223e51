// One conversation's panel (the <template id="conv-template"> of console.html) and its tab
// button: the composer with canned responses, private notes, transfer, escalate and end for an
// assigned conversation; for a monitored one the composer becomes the whisper box and the
// actions go. conversations.js decides when panels come and go; this module fills and wires one.

import { $, el, uuid } from '../common.js';
import { announce, convs, i18n, send, showError, t } from './shared.js';

const TYPING_SEND_EVERY_MS = 2000;

/** GET /api/canned (the program's, edited at /admin): {"en": [{label, text}…], "fr": […]}. */
let canned = { en: [], fr: [] };

/** A new panel and its tab, with ids of their own; not in the page yet. */
export function createPanel(domId) {
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
  return { panel, tab };
}

/** Wire the panel's forms and buttons to the socket; close: what the "Close this tab" button does. */
export function wirePanel(conv, close) {
  const p = conv.panel;
  const composer = p.querySelector('.composer');
  const text = p.querySelector('.composer-text');
  if (conv.kind === 'monitor') {
    // Read-only view: the composer becomes the whisper box, the actions go.
    p.querySelector('.canned-row').remove();
    labelWhisperBox(p);
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
        showError(t('transfer.missing'));
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
  p.querySelector('.close-tab').addEventListener('click', close);
}

/** The panel's words again, after a language switch. */
export function relabelPanel(conv) {
  i18n.apply(conv.panel);
  if (conv.kind === 'monitor') labelWhisperBox(conv.panel);
  else fillCanned(conv.panel.querySelector('.canned'), conv.lang);
}

function labelWhisperBox(panel) {
  panel.querySelector('.composer-label').textContent = t('whisper.label');
  panel.querySelector('.composer button[type="submit"]').textContent = t('whisper.send');
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

/** Read the canned responses (at sign-in, and again on `canned_changed`), then refill the
 * panels already open. Options are built with textContent: a label is never HTML. */
export async function loadCanned() {
  try {
    const res = await fetch('/api/canned', { credentials: 'same-origin', cache: 'no-store' });
    if (res.ok) canned = await res.json();
  } catch { /* no canned responses: the composer still works */ }
  for (const conv of convs.values()) {
    if (conv.kind === 'assigned') fillCanned(conv.panel.querySelector('.canned'), conv.lang);
  }
}
