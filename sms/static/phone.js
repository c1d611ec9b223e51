"use strict";
// The phone simulator: sends texts through /dev/phone/api/send and shows what the service
// sent to this number. Texts are rendered with textContent only.
(function () {
  const numberInput = document.getElementById("number");
  const thread = document.getElementById("thread");
  const form = document.getElementById("composer");
  const body = document.getElementById("body");
  const error = document.getElementById("error");
  const sent = [];          // {body} the phone sent, in order
  let seen = new Set();     // sids of received texts already shown

  function add(text, cls) {
    const li = document.createElement("li");
    li.className = cls;
    li.textContent = text;
    thread.appendChild(li);
    thread.scrollTop = thread.scrollHeight;
  }

  function reset() {
    thread.replaceChildren();
    seen = new Set();
  }

  numberInput.addEventListener("change", reset);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = body.value;
    if (!text.trim()) return;
    error.textContent = "";
    const r = await fetch("/dev/phone/api/send", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({from: numberInput.value, body: text}),
    });
    if (!r.ok) { error.textContent = "Could not send: check the number (E.164, e.g. +16135550123)."; return; }
    const data = await r.json();
    body.value = "";
    sent.push(text);
    add(text, "out");
    if (data.reply) add(data.reply, "in");
  });

  async function poll() {
    try {
      const r = await fetch("/dev/phone/api/messages?number=" + encodeURIComponent(numberInput.value));
      if (r.ok) {
        const data = await r.json();
        for (const m of data.messages) {
          if (!seen.has(m.sid)) { seen.add(m.sid); add(m.body, "in"); }
        }
      }
    } catch (e) { /* the service restarted: try again on the next tick */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
