// The reconnecting socket of both pages: the chat window's /ws/seeker and the console's /ws/peer.
//
// A dropped connection is the normal case on a phone at 3 a.m., so the socket reconnects by
// itself, with exponential backoff and jitter (0.5 s doubling to 15 s), and at once when the
// browser says the network is back. What a page does on a new socket (say hello and resume,
// wait for its conversations to be assigned again) is the page's; when it does it is here.
//
// Close codes (docs/protocol.md, "Close codes"):
//   4401            the console's session ended (sign-out, account disabled): with the `session`
//                   option the socket stops and says 'sessionended'; never reconnects.
//   refused handshake (a close before the socket ever opened, while GET /healthz answers): the
//                   console's cookie is missing or no longer valid (HTTP 403); with `session`,
//                   'sessionended' too, since every retry would be refused the same way.
//   1008 1009 1011 1012 1013 4408, a network drop, anything else: reconnect with backoff and
//                   resume (1013: the page stopped reading and the server's queue for it filled).
//   1000            sent by disconnect(); the page no longer wants a socket.
//
// Messages the server refused (`rate_limited`, `unavailable`) were not stored; the page keeps
// them pending (Transcript.pending() in common.js) and the `resend` option sends them again with
// the same client_id, which the server stores once: when the socket becomes ready, and after a
// refusal, after a pause that grows while refusals go on (1 s, 2, 4 … 16 s; an `ack` starts it
// over).
//
// Events (the socket is an EventTarget):
//   frame          detail: one parsed frame with a string `type`, in the order received
//   ready          frames may be sent (at open, or with `hello` once the page calls markReady())
//   lost           the socket in use is gone (closed, or dropped when the browser went offline)
//   reconnecting   a new attempt is scheduled: the page shows that it is offline
//   sessionended   detail: 'closed' (4401) or 'refused' (handshake refused); no more attempts

export const CLOSE_SESSION_ENDED = 4401;
const CLOSE_NORMAL = 1000;
const REFUSALS = new Set(['rate_limited', 'unavailable']);
const RESEND_FIRST_MS = 1000;
const RESEND_MAX_MS = 16000;

export function wsUrl(path) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped, so a poor connection is not hammered. */
export class Backoff {
  constructor(baseMs = 500, maxMs = 15000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.attempt = 0;
  }
  next() {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt += 1;
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
  reset() { this.attempt = 0; }
}

/** Whether the server answers HTTP: tells a refused handshake from a network that is down. */
async function serverAnswers() {
  try {
    const res = await fetch('/healthz', { cache: 'no-store', credentials: 'omit' });
    return res.ok;
  } catch {
    return false;
  }
}

export class ReconnectingSocket extends EventTarget {
  /**
   * @param {string} path  '/ws/seeker' or '/ws/peer'
   * @param {{hello?: () => object, resend?: () => void, session?: boolean}} options
   *   hello: the first frame of every socket; the socket is then ready only when the page calls
   *     markReady() (on the server's answer), not at open.
   *   resend: sends again what the server has not acknowledged (see the top of this file).
   *   session: the socket rides a signed-in session that can end (the console's cookie).
   */
  constructor(path, { hello = null, resend = null, session = false } = {}) {
    super();
    this.path = path;
    this.hello = hello;
    this.resend = resend;
    this.session = session;
    this.ws = null;
    this.wanted = false; // the page wants a socket: a lost one is replaced
    this._ready = false;
    this.reconnectTimer = null;
    this.resendTimer = null;
    this.resendDelayMs = RESEND_FIRST_MS;
    this.backoff = new Backoff();
    window.addEventListener('offline', () => this._browserOffline());
    window.addEventListener('online', () => this._browserOnline());
  }

  /** Frames can be sent now. */
  get ready() { return this._ready; }

  /** Send a frame if the socket is ready; false (nothing sent) otherwise. */
  send(frame) {
    if (this.ws && this._ready && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  /** Open a socket unless one is open or opening; from now on a lost one is replaced. */
  connect() {
    this.wanted = true;
    if (this.ws) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const sock = new WebSocket(wsUrl(this.path));
    this.ws = sock;
    this._ready = false;
    let opened = false;
    sock.addEventListener('open', () => {
      if (this.ws !== sock) return;
      opened = true;
      if (this.hello) sock.send(JSON.stringify(this.hello()));
      else this._becomeReady();
    });
    sock.addEventListener('message', (event) => {
      if (this.ws !== sock) return;
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame && typeof frame.type === 'string') this._received(frame);
    });
    sock.addEventListener('close', (event) => this._closed(sock, event, opened));
  }

  /** The server accepted the hello (a `welcome`): frames may be sent, pending ones go again. */
  markReady() {
    if (this.ws && !this._ready) this._becomeReady();
  }

  /** Close the socket for good (until connect() is called again); no event follows. */
  disconnect() {
    this.wanted = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    clearTimeout(this.resendTimer);
    this.resendTimer = null;
    const sock = this.ws;
    this.ws = null;
    this._ready = false;
    if (sock) sock.close(CLOSE_NORMAL);
  }

  _becomeReady() {
    this._ready = true;
    this.backoff.reset();
    this.dispatchEvent(new Event('ready'));
    if (this.resend) this.resend();
  }

  _received(frame) {
    if (this.resend && frame.type === 'ack') {
      this.resendDelayMs = RESEND_FIRST_MS; // accepted again: the next refusal starts the pause over
    } else if (this.resend && frame.type === 'error' && REFUSALS.has(frame.code)) {
      this._resendLater();
    }
    this.dispatchEvent(new CustomEvent('frame', { detail: frame }));
  }

  _resendLater() {
    if (this.resendTimer !== null) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      if (this._ready) this.resend();
    }, this.resendDelayMs);
    this.resendDelayMs = Math.min(this.resendDelayMs * 2, RESEND_MAX_MS);
  }

  async _closed(sock, event, opened) {
    if (this.ws !== sock) return; // replaced or disconnected: nothing to tell
    this.ws = null;
    this._ready = false;
    this.dispatchEvent(new Event('lost'));
    if (!this.wanted) return;
    if (this.session) {
      if (event.code === CLOSE_SESSION_ENDED) {
        this._sessionEnded('closed');
        return;
      }
      if (!opened) {
        const refused = await serverAnswers();
        // The page may have moved on while the check ran (signed out, or came back online
        // and opened a new socket): that one decides now.
        if (this.ws || !this.wanted) return;
        if (refused) {
          this._sessionEnded('refused');
          return;
        }
      }
    }
    this._retry();
  }

  _sessionEnded(how) {
    this.disconnect();
    this.dispatchEvent(new CustomEvent('sessionended', { detail: how }));
  }

  _retry() {
    this.dispatchEvent(new Event('reconnecting'));
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.wanted) this.connect();
    }, this.backoff.next());
  }

  // The browser knows before the socket does that the network went away: drop the socket at
  // once (a half-dead one can swallow frames) and reconnect as soon as it is back.
  _browserOffline() {
    if (!this.wanted || !this.ws) return; // with no socket, an attempt is scheduled already
    const sock = this.ws;
    this.ws = null;
    this._ready = false;
    sock.close();
    this.dispatchEvent(new Event('lost'));
    this._retry();
  }

  _browserOnline() {
    if (!this.wanted) return;
    // An attempt made while offline may still be pending; a fresh one is faster than its timeout.
    if (this.ws && this.ws.readyState !== WebSocket.OPEN) {
      const stale = this.ws;
      const wasReady = this._ready;
      this.ws = null;
      this._ready = false;
      stale.close();
      if (wasReady) this.dispatchEvent(new Event('lost'));
    }
    if (!this.ws) {
      this.backoff.reset();
      this.connect();
    }
  }
}
