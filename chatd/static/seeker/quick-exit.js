// Quick exit (CONTRACT.md section 6): the button, or Escape pressed three times within two
// seconds, clears the tab's storage and at once replaces the page with a neutral site, with
// replace() so that the chat does not stay in the back-button history.
//
// seeker.html loads this module with its own <script> tag, ahead of seeker.js, and it imports
// nothing: quick exit works, to the configured address, even if the rest of the chat window
// failed to load. So it is also what reads the chat window's settings (GET /api/public-config),
// for both: seeker.js imports it (the same module instance) for those, and to end an open
// conversation on the way out.

// Used until /api/public-config answers (and if it cannot be reached).
const FALLBACK_EXIT_URL = 'https://www.google.com/search?q=weather';
const ESC_PRESSES = 3;
const ESC_WINDOW_MS = 2000;

let exitUrl = FALLBACK_EXIT_URL;
let beforeExit = null;
const escPresses = [];

/** The chat window's settings (docs/pages.md); {} when they cannot be read. Fetched once. */
export const publicConfig = (async () => {
  try {
    const res = await fetch('/api/public-config', { credentials: 'omit', cache: 'no-store' });
    if (res.ok) {
      const config = await res.json();
      if (config.exit_url) exitUrl = String(config.exit_url);
      return config;
    }
  } catch { /* the fallbacks stay */ }
  return {};
})();

/** Something to do on the way out; it must not block, and leaving goes ahead if it throws. */
export function onQuickExit(fn) {
  beforeExit = fn;
}

export function quickExit() {
  // sessionStorage as common.js's session.clear() does it, without importing it (see above).
  try { sessionStorage.clear(); } catch { /* nothing stored anyway */ }
  try {
    if (beforeExit) beforeExit();
  } catch { /* leaving matters more */ }
  location.replace(exitUrl);
}

document.getElementById('quick-exit').addEventListener('click', quickExit);
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  const now = Date.now();
  escPresses.push(now);
  while (escPresses.length && now - escPresses[0] > ESC_WINDOW_MS) escPresses.shift();
  if (escPresses.length >= ESC_PRESSES) quickExit();
});
