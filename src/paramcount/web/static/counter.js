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

  // A checkpoint file: only its header is read here (file.slice) and posted to /fragments/file, never the weights.
  const MAX_UPLOAD_BYTES = 64 * 1024 * 1024; // paramcount.limits.MAX_UPLOAD_BYTES: the server's cap
  const upload = document.getElementById("upload");
  const fileInput = document.getElementById("file");
  if (!upload || !fileInput) return;
  upload.hidden = false;

  // The bytes to send: a safetensors file's 8-byte length and JSON header; a GGUF's first bytes up to the cap
  // (its header's length is not written anywhere; the server reads what it needs).
  async function headerOf(file) {
    const lower = file.name.toLowerCase();
    if (lower.endsWith(".safetensors")) {
      if (file.size < 8) return file;
      const length = new DataView(await file.slice(0, 8).arrayBuffer()).getBigUint64(0, true);
      const end = 8n + length;
      return file.slice(0, Number(end < BigInt(MAX_UPLOAD_BYTES) ? end : BigInt(MAX_UPLOAD_BYTES) + 1n));
    }
    return file.slice(0, Math.min(file.size, MAX_UPLOAD_BYTES));
  }

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    if (controller) controller.abort();
    controller = new AbortController();
    const mine = controller;
    const header = await headerOf(file);
    await window.paramcountFragments.load(
      output,
      status,
      "Reading the header…",
      (signal) =>
        fetch("/fragments/file?name=" + encodeURIComponent(file.name), {
          method: "POST",
          headers: { "Content-Type": "application/octet-stream" },
          body: header,
          signal,
        }),
      mine.signal,
      () => controller === mine
    );
  });
})();
