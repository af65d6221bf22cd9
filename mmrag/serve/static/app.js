// mmrag's page: a full-size viewer for evidence thumbnails and a busy state while a question is answered.
// Everything works without it; no text from documents is ever inserted as HTML here.
"use strict";
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
});
