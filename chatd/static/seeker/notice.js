// The notice shown before the first message: what is confidential and what is not
// (docs/pages.md, "Changing the notice"). It is plain text from the configuration
// (CHATD_NOTICE_EN / CHATD_NOTICE_FR), never markup.
//
// A blank line starts a paragraph. A paragraph of three dashes folds what follows under
// "More details", so that what matters most fits on a phone's first screen, with no part of it
// hidden below the fold. A short lead ending in a colon ("Confidential:") is shown in bold, so a
// reader scanning for it finds it.

import { el } from '../common.js';

const NOTICE_FOLD = /^-{3,}$/;
const NOTICE_LEAD = /^([^.!?:\n]{1,40}:)\s+/;

function noticeParagraph(text) {
  const lead = NOTICE_LEAD.exec(text);
  if (!lead) return el('p', { text });
  return el('p', {}, el('strong', { text: lead[1] }), ' ', text.slice(lead[0].length));
}

/** Fill box with the notice's paragraphs; moreLabel is the summary of the folded part. */
export function renderNotice(box, text, moreLabel) {
  const more = el('details', { class: 'notice-more' }, el('summary', { text: moreLabel }));
  let into = box;
  box.replaceChildren();
  for (const para of (text || '').split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean)) {
    if (NOTICE_FOLD.test(para)) into = more;
    else into.append(noticeParagraph(para));
  }
  if (more.childElementCount > 1) box.append(more);
}
