// mmrag's page: a full-size viewer for evidence thumbnails, a busy state while a question is answered, and the
// answer streamed from POST /api/ask when the generator writes token by token. Everything but streaming works
// without it; no text from documents or answers is ever inserted as HTML here (textContent only).
"use strict";

function parseEvents(buffer, onEvent) {
  // Server-sent events separated by a blank line; returns what is left of an incomplete event.
  let end;
  while ((end = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trim());
    }
    if (data.length) onEvent(name, JSON.parse(data.join("\n")));
  }
  return buffer;
}

function showAnswer(answer) {
  document.getElementById("generator").textContent = answer.generator;
  const text = document.getElementById("answer-text");
  text.textContent = answer.answer;
  text.classList.add("done");
  document.getElementById("unsupported").hidden = answer.supported;
  const list = document.getElementById("citations");
  list.replaceChildren();
  for (const c of answer.citations) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.className = "citation";
    link.href = `/documents/${encodeURIComponent(c.doc)}/pages/${c.page}?element=${encodeURIComponent(c.element_id)}`;
    link.textContent = c.marker;
    item.append(link, ` ${c.kind}`);
    list.append(item);
  }
  document.getElementById("citations-heading").hidden = answer.citations.length === 0;
  const cited = new Set(answer.citations.map((c) => c.element_id));
  document.querySelectorAll("article.hit").forEach((card) => {
    card.classList.toggle("cited", cited.has(card.dataset.element));
  });
}

function showError(message) {
  const text = document.getElementById("answer-text");
  text.classList.add("done");
  const p = document.createElement("p");
  p.className = "error";
  p.id = "error";
  p.textContent = message;
  text.after(p);
}

async function streamAnswer(section) {
  const d = section.dataset;
  const body = { question: d.question, k: Number(d.k), stream: true };
  if (d.doc) body.doc = d.doc;
  if (d.kind) body.kind = d.kind;
  if (d.pages) body.pages = d.pages;
  const text = document.getElementById("answer-text");
  try {
    const response = await fetch("/api/ask", {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    });
    if (!response.ok) {
      const failure = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
      showError(failure.error);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer = parseEvents(buffer + decoder.decode(value, { stream: true }), (name, data) => {
        if (name === "token") text.textContent += data.text;
        else if (name === "answer") showAnswer(data);
        else if (name === "error") showError(data.error);
      });
    }
  } catch (err) {
    showError(`the answer stopped: ${err}`);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const viewer = document.getElementById("viewer");
  const viewerImg = document.getElementById("viewer-img");
  const viewerLink = document.getElementById("viewer-link");
  document.querySelectorAll("a.thumb").forEach((a) => {
    a.addEventListener("click", (event) => {
      if (!viewer || typeof viewer.showModal !== "function") return;  // plain link then
      event.preventDefault();
      viewerImg.src = a.getAttribute("href");
      viewerImg.alt = a.querySelector("img")?.alt || "";
      viewerLink.href = a.dataset.page || a.getAttribute("href");
      viewer.showModal();
    });
  });
  viewer?.addEventListener("click", (event) => { if (event.target === viewer) viewer.close(); });
  const form = document.getElementById("ask-form");
  form?.addEventListener("submit", () => {
    const button = document.getElementById("ask-button");
    if (button) { button.disabled = true; button.textContent = "Answering…"; }
    // Leave empty filters out of the address.
    form.querySelectorAll("input[name=pages], select[name=doc]").forEach((el) => { if (!el.value) el.disabled = true; });
  });
  const answer = document.getElementById("answer");
  if (answer?.dataset.stream) streamAnswer(answer);
});
