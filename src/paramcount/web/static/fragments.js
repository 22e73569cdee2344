// What the Parameter Counter and the memory planner share: an answer fragment (or a one-line error) fetched
// from /fragments/answer and put into the page. Loaded before counter.js and planner.js.
"use strict";

window.paramcountFragments = (() => {
  // Show an answer fragment in `output`; returns whether it is an error block.
  function show(output, html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    output.replaceChildren(template.content);
    return output.querySelector("[data-state='error']") !== null;
  }

  function showMessage(output, text) {
    const box = document.createElement("div");
    box.className = "error";
    box.dataset.state = "error";
    const message = document.createElement("p");
    message.id = "error-message";
    message.textContent = text;
    box.append(message);
    output.replaceChildren(box);
  }

  // Fetch with `send(signal)` and show the answer in `output`, `status` saying `busy` meanwhile; nothing is
  // shown once `isCurrent()` is false (a newer request replaced this one). Resolves to whether the shown
  // fragment is an error block, or undefined when no fragment was shown.
  async function load(output, status, busy, send, signal, isCurrent) {
    status.textContent = busy;
    try {
      const response = await send(signal);
      if (!isCurrent()) return undefined;
      let failed;
      if (response.ok) {
        failed = show(output, await response.text());
      } else {
        const body = await response.json();
        showMessage(output, body.error ? body.error.message : "The server could not answer (" + response.status + ").");
      }
      status.textContent = "";
      return failed;
    } catch (error) {
      if (error.name === "AbortError") return undefined;
      status.textContent = "";
      showMessage(output, "The server could not be reached.");
      return undefined;
    }
  }

  return { load };
})();
