// The shift area: the peer's state (on shift, on break, off), capacity and load from `shift`
// frames, the queue's counters from `queue` frames, and the debrief pause after a hard
// conversation (`debrief_until`), with the buttons that change them.

import { $, formatTime } from '../common.js';
import { fmtDuration, i18n, send, showError, socket, t } from './shared.js';

const NO_SHIFT = { state: 'off', capacity: null, active: 0, debrief_until: null };
const NO_QUEUE = { waiting: null, peers_on_shift: null };

let shift = { ...NO_SHIFT };
let queue = { ...NO_QUEUE };

export function onShift(frame) {
  shift = {
    state: frame.state,
    capacity: frame.capacity,
    active: frame.active,
    debrief_until: typeof frame.debrief_until === 'number' ? frame.debrief_until : null,
  };
  if (Number(frame.capacity) >= 1 && Number(frame.capacity) <= 5) $('capacity').value = String(frame.capacity);
  showError('');
  renderShift();
}

export function onQueue(frame) {
  queue = { waiting: frame.waiting, peers_on_shift: frame.peers_on_shift };
  renderQueue();
}

/** Signed out: nothing is known about a shift or the queue any more. */
export function resetShift() {
  shift = { ...NO_SHIFT };
  queue = { ...NO_QUEUE };
  renderShift();
  renderQueue();
}

export function renderShift() {
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

/** Also once a second (console.js): the time left counts down, and the banner goes at the end. */
export function renderDebrief() {
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

export function renderQueue() {
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
