// The memory planner, enhanced: the plan updates as the options change. Without JavaScript the form works (GET).
"use strict";

(() => {
  const DELAY_MS = 300;
  const form = document.getElementById("planner");
  const output = document.getElementById("output");
  const status = document.getElementById("status");
  if (!form || !output || !status) return;

  let timer = 0;
  let controller = null;
  let shown = null;

  async function update() {
    const query = window.paramcountFragments.fields(form);
    const text = query.toString();
    if (text === shown) return;
    shown = text;
    history.replaceState(null, "", text ? "?" + text : location.pathname);
    if (controller) controller.abort();
    if (!query.get("q")) {
      output.replaceChildren();
      return;
    }
    controller = new AbortController();
    query.set("view", "memory");
    const send = (signal) => fetch("/fragments/answer?" + query.toString(), { signal });
    await window.paramcountFragments.load(output, status, "Planning…", send, controller.signal, () => text === shown);
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, DELAY_MS);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(timer);
    shown = null;
    update();
  });
})();
