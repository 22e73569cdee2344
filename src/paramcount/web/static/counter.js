// The Parameter Counter, enhanced: answers as you type, and its memory controls (dtype, optimizer, sequence
// length, batch, GPU) redraw the answer and its memory chart without a page load. The URL always holds the
// state (/?q=…&dtype=…), and loading it renders that state on the server. Without JavaScript the form still
// works (GET /?q=…&dtype=…).
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
  let shown = null;

  // The query and the controls that are given, in the form's order.
  function given() {
    const found = window.paramcountFragments.fields(form);
    if (found.has("q")) found.set("q", input.value); // as typed: line breaks and all
    return found;
  }

  function encoded(fields) {
    return Array.from(fields, ([name, value]) => name + "=" + encodeURIComponent(value)).join("&");
  }

  function setUrl(fields, state) {
    const short = (fields.get("q") || "").length <= MAX_URL_QUERY;
    history.replaceState(null, "", short && state ? "?" + state : location.pathname);
  }

  function request(fields, signal) {
    if ((fields.get("q") || "").length <= MAX_URL_QUERY) {
      return fetch("/fragments/answer?" + encoded(fields), { signal });
    }
    return fetch("/fragments/answer", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.fromEntries(fields)),
      signal,
    });
  }

  async function update() {
    const fields = given();
    const state = encoded(fields);
    if (state === shown) return;
    shown = state;
    setUrl(fields, state);
    if (controller) controller.abort();
    if (!fields.has("q")) {
      output.replaceChildren();
      input.removeAttribute("aria-invalid");
      status.textContent = "";
      return;
    }
    controller = new AbortController();
    const failed = await window.paramcountFragments.load(
      output, status, "Counting…", (signal) => request(fields, signal), controller.signal, () => state === shown
    );
    if (failed !== undefined) input.setAttribute("aria-invalid", failed ? "true" : "false");
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, DELAY_MS);
  }

  shown = encoded(given()); // what the server rendered
  form.addEventListener("input", later);
  form.addEventListener("change", later);
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
