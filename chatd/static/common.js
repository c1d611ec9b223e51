// Helpers shared by the seeker's chat window and the peer console.
//
// Safety rule for both pages: a text that a person typed (a message, a note, a display
// name, a username) reaches the DOM only as a Text node: el() sets textContent or
// appends strings, and nothing in these pages parses a string as HTML.

/** Create an element. attrs: class, text, dataset, on<event> listeners, other attributes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    // append() turns a string into a Text node, never into markup.
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

/** A random UUID; crypto.randomUUID exists only in secure contexts (https, localhost). */
export function uuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** sessionStorage that never throws (storage can be disabled or full). */
export const session = {
  get(key) {
    try { return sessionStorage.getItem(key); } catch { return null; }
  },
  set(key, value) {
    try {
      if (value === null || value === undefined) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, value);
    } catch { /* storage unavailable: the page still works, it just cannot resume */ }
  },
  getJSON(key, fallback) {
    try { return JSON.parse(this.get(key)) ?? fallback; } catch { return fallback; }
  },
  setJSON(key, value) { this.set(key, JSON.stringify(value)); },
  clear() {
    try { sessionStorage.clear(); } catch { /* nothing stored anyway */ }
  },
};

/** Pick the UI language: what the tab chose before, else the browser's language. */
export function pickLang(stored) {
  if (stored === 'en' || stored === 'fr') return stored;
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const l of langs) {
    const base = String(l || '').toLowerCase().slice(0, 2);
    if (base === 'fr' || base === 'en') return base;
  }
  return 'en';
}

/** Translations: t(key, {name: value}) with {name} placeholders; apply() fills data-i18n elements. */
export class I18n {
  constructor(strings, lang) {
    this.strings = strings;
    this.lang = lang;
  }
  t(key, params = {}) {
    const table = this.strings[this.lang] || this.strings.en;
    let s = table[key] ?? this.strings.en[key] ?? key;
    for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(String(v));
    return s;
  }
  /** data-i18n="key" sets the text; data-i18n-attr="aria-label:key;placeholder:key" sets attributes. */
  apply(root = document) {
    document.documentElement.lang = this.lang;
    for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = this.t(node.dataset.i18n);
    for (const node of root.querySelectorAll('[data-i18n-attr]')) {
      for (const pair of node.dataset.i18nAttr.split(';')) {
        const [attr, key] = pair.split(':');
        if (attr && key) node.setAttribute(attr.trim(), this.t(key.trim()));
      }
    }
  }
}

export function formatTime(iso, lang) {
  const d = iso ? new Date(iso) : new Date();
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString(lang === 'fr' ? 'fr-CA' : 'en-CA', { hour: '2-digit', minute: '2-digit' });
}

export function telHref(line) {
  return `tel:${String(line).replace(/[^0-9+\-]/g, '')}`;
}

/**
 * The seqs of one conversation this side has seen, as a message or as an ack of its own, and
 * `contiguous`: the largest N such that every seq 1..N has been seen. A resume must ask for
 * what comes after `contiguous`, not after the highest seq seen: frames can overtake one
 * another (an own ack, seq 4, can arrive before the peer's message, seq 3, that the server
 * stored first), and if the connection drops between them, resuming after 4 would never
 * bring 3. Seqs seen above a gap are kept, so the replay that fills the gap can be shown
 * without repeating them.
 */
export class SeenSeqs {
  constructor() { this.clear(); }

  clear() {
    this.contiguous = 0;
    this.above = new Set(); // seen, but with a gap below them
  }

  add(seq) {
    if (!Number.isInteger(seq) || seq <= this.contiguous) return;
    this.above.add(seq);
    while (this.above.delete(this.contiguous + 1)) this.contiguous += 1;
  }
}

/**
 * The list of messages of one conversation, ordered by seq, with no duplicates.
 *
 * Messages come from three places that overlap: what this side typed (shown at once,
 * before the server has numbered it), acks (which give it its seq), and message frames,
 * live or replayed after a resume (which can repeat what is already shown). Every
 * numbered item is kept in bySeq, so a frame with a known seq is dropped; an own
 * message replayed before its ack arrives is matched to the pending one by text (if that
 * was another copy of the same text, the acks sort it out: each seq gets one element).
 */
export class Transcript {
  /**
   * @param {HTMLOListElement} list
   * @param {{own: string, label: (from: string) => string, state: (s: string) => string,
   *          lang: () => string}} opts  own: the `from` value of this side ("seeker" or "peer")
   */
  constructor(list, opts) {
    this.list = list;
    this.opts = opts;
    this.bySeq = new Map();
    this.byClient = new Map();
    this.maxSeq = 0; // where notices go (addItem), not where a resume starts: see SeenSeqs
    this.seen = new SeenSeqs();
  }

  clear() {
    this.list.replaceChildren();
    this.bySeq.clear();
    this.byClient.clear();
    this.maxSeq = 0;
    this.seen.clear();
  }

  get size() { return this.bySeq.size + this.pending().length; }

  /** Add a message frame; returns the new element, or null when it was already shown. */
  addMessage(msg) {
    const seq = Number(msg.seq);
    if (!Number.isFinite(seq)) return null;
    const shown = this.bySeq.get(seq);
    if (shown) {
      if (shown.dataset.from === String(msg.from) && shown.dataset.text === String(msg.text)) return null;
      // The same seq with other words: a Redis failover lost the message first sent under this
      // seq (its sender was never acknowledged and sends it again, under a new seq), and the
      // server gave the seq to the next one. Show the stored message in its place.
      this._unshow(seq, shown);
    }
    if (msg.from === this.opts.own) {
      const match = this.pending().find((p) => p.text === msg.text);
      if (match) {
        this._bind(match.li, seq, msg.at);
        return null;
      }
    }
    const li = this._render(msg.from, msg.text, msg.at);
    this._bind(li, seq, msg.at);
    if (msg.from === this.opts.own) this._setState(li, 'delivered');
    return li;
  }

  /** Take a shown message off seq: an own one still waiting for its ack goes back to
   * pending (it is acknowledged later under its own seq); any other is removed. */
  _unshow(seq, li) {
    this.bySeq.delete(seq);
    const pendingOwn = li.dataset.clientId && this.byClient.get(li.dataset.clientId) === li;
    if (pendingOwn) {
      delete li.dataset.seq;
      this._setState(li, 'wire');
      this.list.append(li);
    } else {
      li.remove();
    }
  }

  /** Show an own message at once, before the server has it. */
  addPending(clientId, text) {
    const li = this._render(this.opts.own, text, null);
    li.dataset.clientId = clientId;
    this.byClient.set(clientId, li);
    this._setState(li, 'queued');
    this.list.append(li);
    return li;
  }

  markSent(clientId) {
    const li = this.byClient.get(clientId);
    if (li && !li.dataset.seq) this._setState(li, 'wire');
  }

  /** The server stored the message: it now has its seq. */
  ack(clientId, seq, state = 'delivered') {
    const li = this.byClient.get(clientId);
    if (!li) return;
    const other = this.bySeq.get(seq);
    if (other && other !== li) {
      // The replay already showed this message (matched to another pending copy of the
      // same text); this element would be a duplicate.
      li.remove();
      this.byClient.delete(clientId);
      return;
    }
    if (li.dataset.seq && Number(li.dataset.seq) !== seq) {
      // A replay matched this element by its text to an identical message that another copy
      // sent (this copy's frame was lost and sent again); this copy is seq, shown apart.
      if (!this.bySeq.has(seq)) {
        const twin = this._render(this.opts.own, li.dataset.text, null);
        this.byClient.set(clientId, twin);
        this._bind(twin, seq, null);
        this._setState(twin, state);
      }
      return;
    }
    if (!li.dataset.seq) this._bind(li, seq, null);
    // An SMS delivery frame may have overtaken the ack: it is the newer news then.
    if (!li.dataset.state || li.dataset.state === 'queued' || li.dataset.state === 'wire') {
      this._setState(li, state);
    }
  }

  /** SMS delivery state of a numbered message (peer console). */
  /** An SMS delivery state. States only move forward: a replayed state read just before a
   * live change can arrive after it, and must not undo it. */
  delivery(seq, state) {
    const li = this.bySeq.get(Number(seq));
    if (!li) return;
    const rank = { 'sms-queued': 0, 'sms-sent': 1, 'sms-delivered': 2, 'sms-failed': 2 };
    const now = rank[li.dataset.state];
    if (now !== undefined && rank[`sms-${state}`] < now) return;
    this._setState(li, `sms-${state}`);
  }

  /** Own messages the server has not acknowledged, in the order they were typed. */
  pending() {
    const out = [];
    for (const [clientId, li] of this.byClient) {
      if (!li.dataset.seq && li.isConnected) out.push({ clientId, text: li.dataset.text, li });
    }
    return out;
  }

  /** A notice that is not a message (escalation, note): placed after what is shown now. */
  addItem(li) {
    li.dataset.seq = String(this.maxSeq + 0.5);
    this._place(li, this.maxSeq + 0.5);
    return li;
  }

  /** Re-render labels after a language switch. */
  relabel() {
    for (const li of this.list.querySelectorAll('li.msg')) {
      const who = li.querySelector('.msg-who');
      if (who) who.textContent = this.opts.label(li.dataset.from);
      if (li.dataset.state) this._setState(li, li.dataset.state);
      const time = li.querySelector('time');
      if (time && time.dateTime) time.textContent = formatTime(time.dateTime, this.opts.lang());
    }
  }

  _render(from, text, at) {
    const time = el('time', { text: at ? formatTime(at, this.opts.lang()) : '' });
    if (at) time.dateTime = at;
    const li = el('li', { class: `msg msg-${from === this.opts.own ? 'own' : from}`, dataset: { from } },
      el('span', { class: 'msg-who', text: this.opts.label(from) }),
      el('p', { class: 'msg-text', text }),
      el('span', { class: 'msg-meta' }, time, ' ', el('span', { class: 'msg-state' })),
    );
    li.dataset.text = text;
    return li;
  }

  _bind(li, seq, at) {
    li.dataset.seq = String(seq);
    this.bySeq.set(seq, li);
    this.maxSeq = Math.max(this.maxSeq, seq);
    this.seen.add(seq);
    if (at) {
      const time = li.querySelector('time');
      time.dateTime = at;
      time.textContent = formatTime(at, this.opts.lang());
    } else if (!li.querySelector('time').textContent) {
      li.querySelector('time').textContent = formatTime(null, this.opts.lang());
    }
    this._place(li, seq);
  }

  _setState(li, state) {
    li.dataset.state = state;
    const node = li.querySelector('.msg-state');
    if (node) node.textContent = this.opts.state(state);
  }

  /** Put li before the first item with a larger seq; pending (unnumbered) items stay last. */
  _place(li, seq) {
    let before = null;
    for (const child of this.list.children) {
      if (child === li) continue;
      const s = child.dataset.seq ? Number(child.dataset.seq) : Infinity;
      if (s > seq) { before = child; break; }
    }
    // Moving a node re-announces it in the aria-live log: move only when the order is wrong.
    if (li.parentNode === this.list && li.nextElementSibling === before) {
      const prev = li.previousElementSibling;
      if (!prev || (prev.dataset.seq && Number(prev.dataset.seq) <= seq)) return;
    }
    this.list.insertBefore(li, before);
  }
}
