// The Parameter Counter, enhanced: answers as you type. Without JavaScript the form still works (GET /?q=…).
"use strict";

(() => {
  const DELAY_MS = 250;
  const MAX_URL_QUERY = 2000; // longer queries (a pasted config.json) are sent as POST and kept out of the URL

  const form = document.getElementById("counter");
  const input = document.getElementById("q");
  const output = document.getElementById("output");
  const status = document.getElementById("status");
  if (!form || !input || !output || !status) return;

  let timer = 0;
  let controller = null;
  let shown = input.value;

  function setUrl(query) {
    const url = query.trim() && query.length <= MAX_URL_QUERY ? "?q=" + encodeURIComponent(query) : location.pathname;
    history.replaceState(null, "", url);
  }

  function request(query, signal) {
    if (query.length <= MAX_URL_QUERY) {
      return fetch("/fragments/answer?q=" + encodeURIComponent(query), { signal });
    }
    return fetch("/fragments/answer", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ q: query }),
      signal,
    });
  }

  async function update() {
    const query = input.value;
    if (query === shown) return;
    shown = query;
    setUrl(query);
    if (controller) controller.abort();
    if (!query.trim()) {
      output.replaceChildren();
      input.removeAttribute("aria-invalid");
      status.textContent = "";
      return;
    }
    controller = new AbortController();
    const failed = await window.paramcountFragments.load(
      output, status, "Counting…", (signal) => request(query, signal), controller.signal, () => query === shown
    );
    if (failed !== undefined) input.setAttribute("aria-invalid", failed ? "true" : "false");
  }

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, DELAY_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(timer);
    shown = null;
    update();
  });
})();
