// Statistics on the admin page (GET /api/stats, /api/stats.csv): a summary, and charts drawn
// here as inline SVG (no library, no third-party request), each followed by a data table that
// a screen reader can use; the SVG itself is one image with a text alternative.

import { $, el } from '../common.js';
import { api, i18n, t } from './shared.js';

const SVG = 'http://www.w3.org/2000/svg';
const DAY_MS = 86400000;
let wired = false;

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function isoDay(date) { return date.toISOString().slice(0, 10); }

function pct(value) {
  return value === null || value === undefined ? '–' : new Intl.NumberFormat(i18n.lang === 'fr' ? 'fr-CA' : 'en-CA',
    { style: 'percent', maximumFractionDigits: 1 }).format(value);
}

function num(value) {
  return value === null || value === undefined ? '–' : new Intl.NumberFormat(i18n.lang === 'fr' ? 'fr-CA' : 'en-CA',
    { maximumFractionDigits: 2 }).format(value);
}

/** A bar chart: one bar per label, its series stacked; returns the <svg>. */
function barChart(id, labels, series, altText) {
  const width = 640;
  const height = 220;
  const pad = { l: 36, r: 8, t: 8, b: 28 };
  const totals = labels.map((_, i) => series.reduce((s, x) => s + (x.values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-alt`, class: 'chart', id,
    preserveAspectRatio: 'none',
  });
  const title = svg('title', { id: `${id}-alt` });
  title.textContent = altText;
  chart.append(title);
  const plotW = width - pad.l - pad.r;
  const plotH = height - pad.t - pad.b;
  const barW = plotW / Math.max(1, labels.length);
  chart.append(svg('line', { x1: pad.l, y1: pad.t + plotH, x2: width - pad.r, y2: pad.t + plotH, class: 'axis' }));
  const top = svg('text', { x: pad.l - 4, y: pad.t + 10, 'text-anchor': 'end', class: 'tick' });
  top.textContent = num(max);
  const zero = svg('text', { x: pad.l - 4, y: pad.t + plotH, 'text-anchor': 'end', class: 'tick' });
  zero.textContent = '0';
  chart.append(top, zero);
  labels.forEach((label, i) => {
    let y = pad.t + plotH;
    for (const s of series) {
      const h = ((s.values[i] || 0) / max) * plotH;
      if (h > 0) {
        y -= h;
        chart.append(svg('rect', {
          x: pad.l + i * barW + barW * 0.1, y, width: Math.max(1, barW * 0.8), height: h, class: `bar ${s.cls}`,
        }));
      }
    }
    const every = Math.ceil(labels.length / 8);
    if (i % every === 0) {
      const tick = svg('text', { x: pad.l + i * barW + barW / 2, y: height - 8, 'text-anchor': 'middle', class: 'tick' });
      tick.textContent = label.length > 5 ? label.slice(5) : label;
      chart.append(tick);
    }
  });
  return chart;
}

function legend(series) {
  return el('ul', { class: 'legend', 'aria-hidden': 'true' },
    ...series.map((s) => el('li', {}, el('span', { class: `swatch ${s.cls}` }), s.name)));
}

function table(caption, head, rows) {
  return el('div', { class: 'table-wrap' }, el('table', { class: 'data' },
    el('caption', { text: caption }),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, el('th', { scope: 'row', text: r[0] }),
      ...r.slice(1).map((c) => el('td', { text: c })))))));
}

function figure(id, heading, chart, series, tableNode) {
  return el('section', { class: 'chart-block', 'aria-labelledby': `${id}-h` },
    el('h3', { id: `${id}-h`, text: heading }), chart, series ? legend(series) : null, tableNode);
}

function summary(s) {
  const rows = [
    ['stats.conversations', num(s.conversations)],
    ['stats.paired', num(s.paired)],
    ['stats.abandoned', num(s.abandoned)],
    ['stats.p50', s.wait_s.p50 === null ? '–' : t('seconds', { n: num(s.wait_s.p50) })],
    ['stats.p90', s.wait_s.p90 === null ? '–' : t('seconds', { n: num(s.wait_s.p90) })],
    ['stats.within60', pct(s.answered_within['60'])],
    ['stats.within120', pct(s.answered_within['120'])],
    ['stats.survey', s.survey.responses ? t('stats.survey.value', { n: s.survey.responses, mean: num(s.survey.mean) })
      : '–'],
  ];
  $('stats-summary').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', { text: t(k) }), el('dd', { text: v })]));
}

function render(s) {
  summary(s);
  const dates = s.days.map((d) => d.date);
  const byChannel = [
    { name: t('channel.web'), cls: 's1', values: s.days.map((d) => d.by_channel.web) },
    { name: t('channel.sms'), cls: 's2', values: s.days.map((d) => d.by_channel.sms) },
  ];
  const perDay = barChart('chart-days', dates, byChannel, t('chart.days.alt', { n: s.conversations }));
  const outcomes = [
    { name: t('stats.paired'), cls: 's1', values: s.days.map((d) => d.paired) },
    { name: t('stats.abandoned'), cls: 's2', values: s.days.map((d) => d.abandoned) },
  ];
  const reasons = Object.entries(s.escalations);
  const hours = s.peer_hours.map((h) => h.hours);
  const hoursSeries = [{ name: t('stats.peer_hours'), cls: 's1', values: hours }];
  $('stats-charts').replaceChildren(
    figure('days', t('chart.days'), perDay, byChannel, table(t('chart.days.table'),
      [t('date'), t('channel.web'), t('channel.sms'), t('lang.en'), t('lang.fr'), t('total')],
      s.days.map((d) => [d.date, num(d.by_channel.web), num(d.by_channel.sms), num(d.by_lang.en), num(d.by_lang.fr),
        num(d.conversations)]))),
    figure('outcomes', t('chart.outcomes'),
      barChart('chart-outcomes', dates, outcomes, t('chart.outcomes.alt', { paired: s.paired, abandoned: s.abandoned })),
      outcomes, table(t('chart.outcomes.table'), [t('date'), t('stats.paired'), t('stats.abandoned'), t('stats.escalated')],
        s.days.map((d) => [d.date, num(d.paired), num(d.abandoned), num(d.escalated)]))),
    figure('reasons', t('chart.reasons'),
      barChart('chart-reasons', reasons.map(([r]) => t(`reason.${r}`)),
        [{ name: t('chart.reasons'), cls: 's3', values: reasons.map(([, n]) => n) }],
        t('chart.reasons.alt', { list: reasons.map(([r, n]) => `${t(`reason.${r}`)} ${n}`).join(', ') })),
      null, table(t('chart.reasons.table'), [t('reason'), t('count')], reasons.map(([r, n]) => [t(`reason.${r}`), num(n)]))),
    figure('hours', t('stats.peer_hours'),
      barChart('chart-hours', dates, hoursSeries, t('chart.hours.alt', { n: num(hours.reduce((a, b) => a + b, 0)) })),
      null, table(t('chart.hours.table'), [t('date'), t('stats.peer_hours')],
        s.peer_hours.map((h) => [h.date, num(h.hours)]))),
  );
}

export async function loadStats() {
  const from = $('stats-from').value;
  const to = $('stats-to').value;
  const query = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  $('stats-csv').href = `/api/stats.csv?${query}`;
  const res = await api('GET', `/api/stats?${query}`);
  if (!res.ok) {
    $('stats-error').textContent = (res.body && res.body.message) || t('error.generic');
    return;
  }
  $('stats-error').textContent = '';
  render(res.body);
}

export function wireStats() {
  if (wired) return;
  wired = true;
  const today = new Date();
  $('stats-to').value = isoDay(new Date(today.getTime() - today.getTimezoneOffset() * 60000));
  $('stats-from').value = isoDay(new Date(today.getTime() - today.getTimezoneOffset() * 60000 - 29 * DAY_MS));
  $('stats-form').addEventListener('submit', (event) => { event.preventDefault(); loadStats(); });
}
