// Service hours and canned responses on the admin page (GET/PUT /api/admin/hours,
// GET /api/canned, PUT /api/admin/canned).
//
// The page edits one opening interval per day (the API takes up to four); holidays are whole
// days. Canned responses: English and French side by side, each a label and a text.

import { $, el } from '../common.js';
import { api, flash, t } from './shared.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
let holidays = [];
let canned = { en: [], fr: [] };

// ---- hours ----

function renderWeekly(weekly) {
  const body = $('hours-table').tBodies[0];
  body.replaceChildren(...DAYS.map((day) => {
    const first = weekly && weekly[day] && weekly[day][0];
    const name = t(`day.${day}`);
    const open = el('input', { type: 'checkbox', id: `h-${day}-open`, 'aria-label': t('hours.open.day', { day: name }) });
    open.checked = Boolean(first);
    const from = el('input', { type: 'time', id: `h-${day}-from`, 'aria-label': t('hours.from.day', { day: name }) });
    const until = el('input', { type: 'time', id: `h-${day}-until`, 'aria-label': t('hours.until.day', { day: name }) });
    from.value = first ? first[0] : '09:00';
    until.value = first ? (first[1] === '24:00' ? '23:59' : first[1]) : '17:00';
    return el('tr', {}, el('th', { scope: 'row', text: name }), el('td', {}, open), el('td', {}, from),
      el('td', {}, until));
  }));
}

function renderHolidays() {
  $('holidays').replaceChildren(...holidays.map((h, i) => el('li', {},
    el('span', { text: h.note ? `${h.date} · ${h.note}` : h.date }), ' ',
    el('button', {
      type: 'button', class: 'btn btn-quiet', text: t('remove'),
      'aria-label': t('hours.remove', { date: h.date }),
      onclick: () => { holidays.splice(i, 1); renderHolidays(); $('holiday-date').focus(); },
    }))));
}

function syncMode() {
  const weekly = $('hours-weekly').checked;
  $('hours-table').hidden = !weekly;
}

export async function loadHours() {
  const res = await api('GET', '/api/admin/hours');
  if (!res.ok) return;
  const h = res.body;
  $(h.weekly ? 'hours-weekly' : 'hours-always').checked = true;
  renderWeekly(h.weekly);
  holidays = h.holidays.slice();
  renderHolidays();
  syncMode();
  renderNow(h.now, h.timezone);
}

function renderNow(now, timezone) {
  if (now.open) {
    $('hours-now').textContent = t('hours.now.open', { zone: timezone });
    return;
  }
  const when = now.next_open ? new Date(now.next_open).toLocaleString(document.documentElement.lang === 'fr'
    ? 'fr-CA' : 'en-CA', { timeZone: timezone, dateStyle: 'full', timeStyle: 'short' }) : t('hours.never');
  $('hours-now').textContent = t('hours.now.closed', { when, zone: timezone });
}

async function saveHours(event) {
  event.preventDefault();
  let weekly = null;
  if ($('hours-weekly').checked) {
    weekly = {};
    for (const day of DAYS) {
      const until = $(`h-${day}-until`).value === '23:59' ? '24:00' : $(`h-${day}-until`).value;
      weekly[day] = $(`h-${day}-open`).checked ? [[$(`h-${day}-from`).value, until]] : [];
    }
  }
  const res = await api('PUT', '/api/admin/hours', { weekly, holidays });
  $('hours-error').textContent = res.ok ? '' : (res.body && res.body.message) || t('error.generic');
  if (res.ok) {
    flash(t('hours.saved'));
    renderNow(res.body.now, res.body.timezone);
  }
}

// ---- canned responses ----

function renderCanned() {
  for (const lang of ['en', 'fr']) {
    const list = $(`canned-${lang}`).querySelector('.canned-list');
    list.replaceChildren(...canned[lang].map((item, i) => {
      const n = i + 1;
      const label = el('input', { id: `c-${lang}-${i}-label`, maxlength: 60, lang });
      label.value = item.label;
      label.addEventListener('input', () => { item.label = label.value; });
      const text = el('textarea', { id: `c-${lang}-${i}-text`, rows: 3, maxlength: 2000, lang });
      text.value = item.text;
      text.addEventListener('input', () => { item.text = text.value; });
      return el('li', { class: 'canned-item' },
        el('label', { for: label.id, text: t('canned.label', { n }) }), label,
        el('label', { for: text.id, text: t('canned.text', { n }) }), text,
        el('button', {
          type: 'button', class: 'btn btn-quiet', text: t('remove'),
          'aria-label': t('canned.remove', { n, lang: t(`lang.${lang}`) }),
          onclick: () => { canned[lang].splice(i, 1); renderCanned(); },
        }));
    }));
  }
}

export async function loadCanned() {
  const res = await api('GET', '/api/canned');
  if (!res.ok) return;
  canned = { en: res.body.en.map((x) => ({ ...x })), fr: res.body.fr.map((x) => ({ ...x })) };
  renderCanned();
}

async function saveCanned(event) {
  event.preventDefault();
  const res = await api('PUT', '/api/admin/canned', canned);
  $('canned-error').textContent = res.ok ? '' : (res.body && res.body.message) || t('error.generic');
  if (res.ok) flash(t('canned.saved'));
}

let wired = false;

export function wireProgram() {
  if (wired) return;
  wired = true;
  $('hours-form').addEventListener('submit', saveHours);
  for (const id of ['hours-always', 'hours-weekly']) $(id).addEventListener('change', syncMode);
  $('holiday-add').addEventListener('click', () => {
    const date = $('holiday-date').value;
    if (!date) { $('hours-error').textContent = t('hours.date.missing'); return; }
    if (!holidays.some((h) => h.date === date)) holidays.push({ date, note: $('holiday-note').value.trim() });
    holidays.sort((a, b) => a.date.localeCompare(b.date));
    $('holiday-date').value = '';
    $('holiday-note').value = '';
    $('hours-error').textContent = '';
    renderHolidays();
  });
  $('canned-form').addEventListener('submit', saveCanned);
  for (const button of document.querySelectorAll('.canned-add')) {
    button.addEventListener('click', () => {
      const { lang } = button.dataset;
      canned[lang].push({ label: '', text: '' });
      renderCanned();
      $(`c-${lang}-${canned[lang].length - 1}-label`).focus();
    });
  }
}
