// The program admin page (GET /admin): roster, audit log, service hours, canned responses and
// statistics, through the JSON API of CONTRACT.md section 9 and docs/protocol.md.
//
// Who sees what: an admin sees every section; a supervisor sees the statistics only (the API
// refuses the rest anyway); anyone else is told so and pointed to the console. Signing in
// happens in the console (same session cookie). Every text that came from a person or the
// database reaches the DOM through el()/textContent, never as HTML.

import { $, el, session } from './common.js';
import { api, flash, i18n, t } from './admin/shared.js';
import { loadCanned, loadHours, wireProgram } from './admin/program.js';
import { loadStats, wireStats } from './admin/stats.js';

let me = null;
let roster = [];
let editing = null; // username being edited, or null when adding

function isAdmin() { return me && me.role === 'admin'; }

// ---- roster ----

function yesNo(value) { return t(value ? 'yes' : 'no'); }

function renderRoster() {
  const body = $('roster-table').tBodies[0];
  body.replaceChildren(...roster.map((a) => el('tr', {},
    el('th', { scope: 'row', text: a.username }),
    el('td', { text: a.display_name }),
    el('td', { text: t(`role.${a.role}`) }),
    el('td', { text: yesNo(a.trained) }),
    el('td', { text: a.languages.join(', ') }),
    el('td', { text: t(a.disabled ? 'status.disabled' : 'status.active') }),
    el('td', {}, el('button', {
      type: 'button', class: 'btn btn-quiet', text: t('edit'),
      'aria-label': t('edit.account', { name: a.username }), onclick: () => openForm(a),
    })))));
}

async function loadRoster() {
  const res = await api('GET', '/api/admin/supporters');
  if (res.ok) { roster = res.body; renderRoster(); }
}

function openForm(account) {
  editing = account ? account.username : null;
  const form = $('account-form');
  form.hidden = false;
  $('account-error').textContent = '';
  $('account-form-title').textContent = account ? t('roster.edit', { name: account.username }) : t('roster.add');
  $('f-username').value = account ? account.username : '';
  $('f-username').disabled = Boolean(account);
  $('f-display').value = account ? account.display_name : '';
  $('f-role').value = account ? account.role : 'peer';
  $('f-trained').checked = account ? account.trained : false;
  $('f-lang-en').checked = account ? account.languages.includes('en') : true;
  $('f-lang-fr').checked = account ? account.languages.includes('fr') : true;
  $('f-disabled-row').hidden = !account;
  $('f-disabled').checked = account ? account.disabled : false;
  $('f-password').value = '';
  $('f-password-label').textContent = t(account ? 'field.password.new' : 'field.password');
  $('f-password-hint').textContent = t(account ? 'field.password.hint.edit' : 'field.password.hint');
  $('account-form-title').focus();
}

function closeForm() {
  $('account-form').hidden = true;
  editing = null;
  $('account-new').focus();
}

async function submitAccount(event) {
  event.preventDefault();
  const languages = ['en', 'fr'].filter((l) => $(`f-lang-${l}`).checked);
  const body = {
    display_name: $('f-display').value, role: $('f-role').value, trained: $('f-trained').checked, languages,
  };
  const password = $('f-password').value;
  let res;
  if (editing) {
    const before = roster.find((a) => a.username === editing);
    if (before && $('f-disabled').checked !== before.disabled) body.disabled = $('f-disabled').checked;
    if (password) body.password = password;
    res = await api('PATCH', `/api/admin/supporters/${encodeURIComponent(editing)}`, body);
  } else {
    res = await api('POST', '/api/admin/supporters', { username: $('f-username').value.trim(), ...body, password });
  }
  if (!res.ok) {
    $('account-error').textContent = res.body && res.body.message ? res.body.message : t('error.generic');
    return;
  }
  const name = res.body.username;
  flash(t(editing ? 'roster.saved' : 'roster.added', { name }));
  $('account-form').hidden = true;
  editing = null;
  await loadRoster();
  await loadAudit();
  $('account-new').focus();
}

// ---- audit ----

async function loadAudit() {
  const account = $('audit-account').value.trim();
  const res = await api('GET', `/api/admin/audit${account ? `?account=${encodeURIComponent(account)}` : ''}`);
  if (!res.ok) return;
  const fmt = new Intl.DateTimeFormat(i18n.lang === 'fr' ? 'fr-CA' : 'en-CA',
    { dateStyle: 'medium', timeStyle: 'short' });
  $('audit-table').tBodies[0].replaceChildren(...res.body.map((e) => el('tr', {},
    el('td', {}, el('time', { datetime: new Date(e.at_ms).toISOString(), text: fmt.format(new Date(e.at_ms)) })),
    el('td', { text: e.actor }),
    el('td', { text: e.action }),
    el('td', { text: e.account || '' }),
    el('td', { class: 'detail', text: e.conversation ? `${e.conversation} ${e.detail}` : e.detail }))));
}

// ---- page ----

function show() {
  $('sections').hidden = false;
  $('stats-section').hidden = false;
  for (const node of document.querySelectorAll('[data-admin]')) node.hidden = !isAdmin();
  const who = $('whoami');
  who.hidden = false;
  who.textContent = `${me.display_name} (${t(`role.${me.role}`)})`;
}

function applyLanguage() {
  i18n.apply();
  document.title = t('title');
  const sw = $('lang-switch');
  sw.textContent = t('lang.switch');
  sw.lang = i18n.lang === 'fr' ? 'en' : 'fr';
  if (me) {
    show();
    loadStats();
    if (isAdmin()) { renderRoster(); loadAudit(); loadHours(); }
  }
}

async function start() {
  applyLanguage();
  const res = await api('GET', '/api/me');
  if (!res.ok) {
    gate('gate.signin');
    return;
  }
  me = res.body;
  if (me.role !== 'admin' && me.role !== 'supervisor') {
    gate('gate.role');
    return;
  }
  show();
  wireStats();
  loadStats();
  if (isAdmin()) {
    wireProgram();
    await Promise.all([loadRoster(), loadAudit(), loadHours(), loadCanned()]);
  }
}

function gate(key) {
  const box = $('gate');
  box.hidden = false;
  box.replaceChildren(t(key), ' ', el('a', { href: '/console', text: t('gate.console') }));
}

$('lang-switch').addEventListener('click', () => {
  i18n.lang = i18n.lang === 'fr' ? 'en' : 'fr';
  session.set('chatd.lang', i18n.lang);
  applyLanguage();
});
$('account-new').addEventListener('click', () => openForm(null));
$('account-cancel').addEventListener('click', closeForm);
$('account-form').addEventListener('submit', submitAccount);
$('audit-form').addEventListener('submit', (event) => { event.preventDefault(); loadAudit(); });

start();
