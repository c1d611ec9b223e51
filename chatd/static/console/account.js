// Signing in and out (POST /api/login, POST /api/logout, GET /api/me): the sign-in form with
// its explanations (401, 429), the account shown in the header, and what a session that ends
// (signed out here or elsewhere, a cookie no longer valid) leaves: the sign-in form, and
// nothing of the conversations, offers, alerts or shift on screen.

import { $, session } from '../common.js';
import { removeAllConvs } from './conversations.js';
import { removeAllOffers } from './offers.js';
import { K, account, isSupervisor, showError, socket, t } from './shared.js';
import { renderQueue, renderShift, resetShift } from './shift.js';
import { clearAlerts } from './supervision.js';

function showLogin(message) {
  $('login-view').hidden = false;
  $('app-view').hidden = true;
  $('logout').hidden = true;
  $('whoami').hidden = true;
  $('admin-link').hidden = true;
  $('login-error').textContent = message || '';
  $('login-username').focus();
}

export function showApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  const who = $('whoami');
  who.hidden = false;
  const profile = account.profile;
  const role = ['peer', 'supervisor', 'admin'].includes(profile.role) ? profile.role : 'peer';
  who.textContent = `${profile.display_name || profile.username} (${t(`role.${role}`)})`;
  $('supervisor').hidden = !isSupervisor();
  // Admins manage the program at /admin; supervisors read its statistics there.
  $('admin-link').hidden = !isSupervisor();
  $('admin-link').textContent = t(role === 'admin' ? 'admin.link' : 'admin.stats');
  if (profile.trained === false) showError(t('shift.untrained'));
  document.body.classList.toggle('is-supervisor', isSupervisor());
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
  account.profile = toProfile(body, username);
  session.setJSON(K.profile, account.profile);
  $('login-password').value = '';
  enterApp();
});

$('logout').addEventListener('click', async () => {
  socket.disconnect();
  try {
    await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' });
  } catch { /* the session expires on the server anyway */ }
  signedOut(t('login.out'));
});

/** The session ended (signed out here or elsewhere, or refused): back to the sign-in form. */
export function signedOut(message) {
  socket.disconnect();
  account.profile = null;
  session.set(K.profile, null);
  resetState();
  showLogin(message);
}

function resetState() {
  removeAllConvs();
  removeAllOffers();
  clearAlerts();
  resetShift();
}

function enterApp() {
  showApp();
  renderShift();
  renderQueue();
  socket.connect();
  $('main').focus();
}

function toProfile(body, fallbackName) {
  return {
    username: String(body.username || fallbackName),
    display_name: String(body.display_name || body.username || fallbackName),
    role: String(body.role || 'peer'),
    trained: body.trained !== false,
  };
}

/** On opening: the console as the session cookie allows, or the sign-in form. */
export async function resumeSession() {
  // The session cookie is HttpOnly: ask the server whether it is still valid (GET /api/me).
  try {
    const res = await fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' });
    if (res.ok) {
      account.profile = toProfile(await res.json(), '');
      session.setJSON(K.profile, account.profile);
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
    account.profile = saved;
    enterApp(); // the socket handshake tells whether the session is still valid
  } else {
    showLogin('');
  }
}
