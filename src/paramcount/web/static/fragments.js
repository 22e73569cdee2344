// What the Parameter Counter and the memory planner share: an answer fragment (or a one-line error) fetched
// from /fragments/answer and put into the page, the fields their forms give, and the copy buttons of answers.
// Loaded before counter.js and planner.js, and alone on answer pages.
"use strict";

window.paramcountFragments = (() => {
  // A button that copies `text()` (a string or a promise of one) to the clipboard and says so in a status line.
  function copyButton(label, text) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = label;
    const said = document.createElement("span");
    said.className = "copy-status";
    said.setAttribute("role", "status");
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(await text());
        said.textContent = "Copied";
      } catch {
        said.textContent = "Could not copy";
      }
    });
    const box = document.createElement("p");
    box.className = "copy-line";
    box.append(button, said);
    return box;
  }

  // Copy buttons for the snippet that verifies the count ("Verify with PyTorch") and for the answer's JSON.
  function addCopyButtons(root) {
    if (!navigator.clipboard) return; // only in secure contexts (https, localhost)
    for (const snippet of root.querySelectorAll("pre.code")) {
      snippet.after(copyButton("Copy code", () => snippet.textContent));
    }
    const link = root.querySelector("#json-link");
    if (link) {
      const json = async () => {
        const response = await fetch(link.href);
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      };
      link.closest("p").after(copyButton("Copy JSON", json));
    }
  }

  // Show an answer fragment in `output`; returns whether it is an error block.
  function show(output, html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    addCopyButtons(template.content);
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

  // A form's fields that are given (blank ones are "not given"), as a query string's parameters.
  function fields(form) {
    const found = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (typeof value === "string" && value.trim() !== "") found.append(name, value);
    }
    return found;
  }

  addCopyButtons(document);
  return { load, fields };
})();
