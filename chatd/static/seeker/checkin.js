// The optional check-in (the #checkin form of seeker.html), before the first message: "How are
// you feeling right now?" (1–7) and "Are you safe right now?" (yes / no / not sure). It never
// holds anything back: the message box works beside it, a first message sent while it is open
// takes along what was picked, and "Skip the questions" — the form's first control, so one key
// press (Enter or Space) from there — puts it away. "No" or "not sure" is answered by the server
// with the crisis line (an `escalation` with reason `risk`) and a place at the front of the line.

import { $ } from '../common.js';

let dismissed = false;
let send = () => {};

/**
 * Wire the form.
 * @param {{sendCheckin: (frame: object) => void}} chat sends the `checkin` frame (opening the
 *   conversation's socket if needed)
 */
export function wireCheckin(chat) {
  send = chat.sendCheckin;
  $('checkin').addEventListener('submit', (event) => {
    event.preventDefault();
    const frame = takeAnswers();
    dismiss();
    if (frame) send(frame);
  });
  $('checkin-skip').addEventListener('click', () => {
    dismiss();
    $('composer-text').focus();
  });
}

/** The answers picked so far as a `checkin` frame, or null when none was picked. */
export function takeAnswers() {
  if (dismissed || $('checkin').hidden) return null;
  const feeling = $('checkin').querySelector('input[name="feeling"]:checked');
  const safe = $('checkin').querySelector('input[name="safe"]:checked');
  if (!feeling && !safe) return null;
  const frame = { type: 'checkin' };
  if (feeling) frame.feeling = Number(feeling.value);
  if (safe) frame.safe = safe.value;
  return frame;
}

/** A first message is on its way: what was picked goes with it, and the form goes. */
export function sendWithFirstMessage() {
  const frame = takeAnswers();
  dismiss();
  if (frame) send(frame);
}

function dismiss() {
  dismissed = true;
  $('checkin').hidden = true;
}

/** Shown before the first message (state idle), unless answered or skipped already. */
export function showCheckin(idle) {
  $('checkin').hidden = !idle || dismissed;
}

/** A new conversation: the questions may be asked again. */
export function resetCheckin() {
  dismissed = false;
  $('checkin').reset();
}
