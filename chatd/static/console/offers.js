// Offers: a waiting conversation offered to this peer (`offer`), shown with a countdown
// (`expires_in_s`, a number and a progress bar), the waiting time, a risk badge and who
// transferred it, until it is accepted, declined, revoked or expires. Noticeable without
// sound: an assertive announcement, the card's pulse (chat.css) and the title (shared.js).

import { $, el } from '../common.js';
import { announce, checkinText, fmtDuration, offers, send, showError, t } from './shared.js';

let counter = 0; // DOM ids
let lastAccepted = null; // the offer an `offer_gone` refers to

export function onOffer(frame) {
  const id = String(frame.offer);
  removeOffer(id);
  const expiresS = Math.max(0, Number(frame.expires_in_s) || 0);
  const deadline = Date.now() + expiresS * 1000;
  const channel = t(`channel.${frame.channel === 'sms' ? 'sms' : 'web'}`);
  const countdown = el('span', { class: 'offer-countdown' });
  const bar = el('progress', { class: 'offer-bar', max: String(expiresS || 1), value: String(expiresS) });
  const titleId = `offer-title-${++counter}`;
  const accept = el('button', { type: 'button', class: 'btn btn-primary', text: t('offer.accept') });
  const decline = el('button', { type: 'button', class: 'btn btn-quiet', text: t('offer.decline') });
  const card = el('li', { class: `offer${frame.risk ? ' offer-risk' : ''}`, 'aria-labelledby': titleId },
    el('h3', { id: titleId, text: t('offer.heading', { channel }) }),
    frame.transfer_from ? el('p', { class: 'offer-meta', text: t('offer.transfer', { name: String(frame.transfer_from) }) }) : null,
    el('p', { class: 'offer-meta' },
      t('offer.waited', { time: fmtDuration(frame.waited_s) }),
      frame.risk ? el('strong', { class: 'badge badge-risk', text: ` ${t('offer.risk')}` }) : null),
    checkinText(frame.checkin) ? el('p', { class: 'offer-meta offer-checkin', text: checkinText(frame.checkin) }) : null,
    el('p', { class: 'offer-timer' }, countdown, bar),
    el('div', { class: 'offer-actions' }, accept, ' ', decline),
  );
  bar.setAttribute('aria-labelledby', titleId);
  card.dataset.offer = id;
  accept.addEventListener('click', () => {
    if (!send({ type: 'accept', offer: id })) return;
    lastAccepted = id;
    accept.disabled = true;
    decline.disabled = true;
    accept.textContent = t('offer.accepting');
  });
  decline.addEventListener('click', () => {
    send({ type: 'decline', offer: id });
    removeOffer(id);
  });
  offers.set(id, { frame, card, deadline, countdown, bar, conversation: String(frame.conversation) });
  $('offer-list').append(card);
  tickOffer(offers.get(id));
  renderOffers();
  announce(t('offer.announce', { s: Math.round(expiresS) }));
}

/** Once a second (console.js): the countdowns move, and an expired offer goes. */
export function tickOffers() {
  for (const offer of offers.values()) tickOffer(offer);
}

function tickOffer(offer) {
  const leftS = Math.max(0, Math.ceil((offer.deadline - Date.now()) / 1000));
  offer.countdown.textContent = t('offer.expires', { s: leftS });
  offer.bar.value = leftS;
  if (leftS <= 0) removeOffer(offer.card.dataset.offer);
}

/** `revoked`, declined, expired or accepted elsewhere: the card goes (focus stays in the section). */
export function removeOffer(id) {
  const offer = offers.get(String(id));
  if (!offer) return;
  const hadFocus = offer.card.contains(document.activeElement);
  offer.card.remove();
  offers.delete(String(id));
  renderOffers();
  if (hadFocus) $('offers-title').focus();
}

/** The conversation was assigned: any offer of it is over. */
export function removeOffersOf(conversation) {
  for (const [offerId, offer] of offers) if (offer.conversation === conversation) removeOffer(offerId);
}

export function removeAllOffers() {
  for (const id of [...offers.keys()]) removeOffer(id);
}

/** `offer_gone`: the offer just accepted expired, was revoked or went to someone else. */
export function onOfferGone() {
  if (lastAccepted) removeOffer(lastAccepted);
  lastAccepted = null;
  showError(t('offer.gone'));
}

function renderOffers() {
  $('offers-empty').hidden = offers.size > 0;
  document.body.classList.toggle('has-offers', offers.size > 0);
}
