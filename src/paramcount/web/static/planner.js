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

  function parameters() {
    const found = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (typeof value === "string" && value.trim() !== "") found.append(name, value);
    }
    return found;
  }

  function show(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    output.replaceChildren(template.content);
  }

  function showMessage(text) {
    const box = document.createElement("div");
    box.className = "error";
    box.dataset.state = "error";
    const message = document.createElement("p");
    message.id = "error-message";
    message.textContent = text;
    box.append(message);
    output.replaceChildren(box);
  }

  async function update() {
    const query = parameters();
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
    status.textContent = "Planning…";
    query.set("view", "memory");
    try {
      const response = await fetch("/fragments/answer?" + query.toString(), { signal: controller.signal });
      if (text !== shown) return;
      if (response.ok) {
        show(await response.text());
      } else {
        const body = await response.json();
        showMessage(body.error ? body.error.message : "The server could not answer (" + response.status + ").");
      }
      status.textContent = "";
    } catch (error) {
      if (error.name === "AbortError") return;
      status.textContent = "";
      showMessage("The server could not be reached.");
    }
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
