// After the end of a conversation (the #after section of seeker.html): the optional rating
// (`survey`), deleting the conversation's messages at once (`forget`, asked twice), and
// starting a new conversation. The chat (seeker.js) sends the frames and resets itself.

import { $ } from '../common.js';

let t = (key) => key;

/**
 * Wire the section's buttons.
 * @param {{t: (key: string) => string, sendControl: (frame: object) => void, startOver: () => void}} chat
 *   sendControl sends a frame now, or as soon as the conversation is reached again;
 *   startOver forgets the ended conversation and shows an empty chat window.
 */
export function wireAfter(chat) {
  t = chat.t;

  $('survey').addEventListener('submit', (event) => {
    event.preventDefault();
    const picked = $('survey').querySelector('input[name="rating"]:checked');
    // The check-in's question again (1–7, an addition to the protocol): either answer may be given alone.
    const feeling = $('survey').querySelector('input[name="feeling"]:checked');
    if (!picked && !feeling) {
      $('survey-done').textContent = t('survey.pick');
      return;
    }
    const frame = { type: 'survey' };
    if (picked) frame.rating = Number(picked.value);
    if (feeling) frame.feeling = Number(feeling.value);
    chat.sendControl(frame);
    $('survey').hidden = true;
    $('survey-done').textContent = t('survey.thanks');
    $('survey-done').tabIndex = -1;
    $('survey-done').focus();
  });

  $('forget').addEventListener('click', () => {
    $('forget-status').textContent = t('forget.ask');
    $('forget').hidden = true;
    $('forget-confirm').hidden = false;
    $('forget-cancel').hidden = false;
    $('forget-confirm').focus();
  });
  $('forget-cancel').addEventListener('click', () => {
    $('forget-status').textContent = '';
    $('forget').hidden = false;
    $('forget-confirm').hidden = true;
    $('forget-cancel').hidden = true;
    $('forget').focus();
  });
  $('forget-confirm').addEventListener('click', () => {
    $('forget-confirm').hidden = true;
    $('forget-cancel').hidden = true;
    chat.sendControl({ type: 'forget' });
  });

  $('new-chat').addEventListener('click', () => {
    for (const id of ['survey-done', 'forget-status']) $(id).textContent = '';
    $('survey').reset();
    $('survey').hidden = false;
    $('forget').hidden = false;
    chat.startOver();
  });
}

/** The server said `forgotten`: nothing is left to rate or delete. */
export function showForgotten() {
  $('forget-status').textContent = t('forget.done');
  $('forget').hidden = true;
  $('forget-confirm').hidden = true;
  $('forget-cancel').hidden = true;
  $('survey').hidden = true;
}

/** The conversation could not be reached to delete it (it expired): it is deleted on schedule. */
export function showForgetFailed() {
  $('forget-status').textContent = t('forget.failed');
}
