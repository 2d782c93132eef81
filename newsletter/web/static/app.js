// Review pages: live post length counters (counted as the server's compose/length.py counts)
// and the desktop/mobile width toggle of the digest preview. No framework, no network.
"use strict";

const URL_PATTERN = /https?:\/\/[^\s<>"«»]+[^\s<>"«».,;:!?)\]]/gu;
const URL_LENGTH = 23;
const segmenter = typeof Intl !== "undefined" && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;

function graphemes(text) {
  return segmenter ? Array.from(segmenter.segment(text)).length : Array.from(text).length;
}

function withoutUrls(text) {
  let urls = 0;
  const rest = text.replace(URL_PATTERN, () => { urls += 1; return ""; });
  return { urls, rest };
}

// twitter-text v3: code points in these ranges weigh 1, others 2; an emoji sequence 2; a URL 23.
const X_LIGHT = [[0, 4351], [8192, 8205], [8208, 8223], [8242, 8247]];
const EMOJI = /\p{Extended_Pictographic}/u;

function xLength(text) {
  const { urls, rest } = withoutUrls(text.normalize("NFC"));
  let length = urls * URL_LENGTH;
  const clusters = segmenter ? Array.from(segmenter.segment(rest), (s) => s.segment) : Array.from(rest);
  for (const cluster of clusters) {
    if (EMOJI.test(cluster)) { length += 2; continue; }
    for (const char of cluster) {
      const code = char.codePointAt(0);
      length += X_LIGHT.some(([low, high]) => code >= low && code <= high) ? 1 : 2;
    }
  }
  return length;
}

const COUNTERS = {
  x: xLength,
  mastodon: (text) => {
    const { urls, rest } = withoutUrls(text);
    return urls * URL_LENGTH + graphemes(rest.replace(/@([a-z0-9_]+)@[\w.-]+\w/giu, "@$1"));
  },
  bluesky: graphemes,
  linkedin: (text) => text.length,
};

function updateCounter(textarea) {
  const count = COUNTERS[textarea.dataset.platform] || graphemes;
  const limit = Number(textarea.dataset.limit);
  const text = textarea.value.replace(/\r\n?/g, "\n").trim();
  const length = count(text);
  const output = textarea.form.querySelector("output.length");
  output.textContent = `${length}/${limit}`;
  const over = length > limit || length === 0;
  output.classList.toggle("over", over);
  textarea.form.querySelector("button.save").disabled = over;
}

function setWidth(button) {
  const section = button.closest("section");
  const frame = section.querySelector("iframe.digest-frame");
  frame.classList.toggle("mobile", button.dataset.width === "mobile");
  frame.classList.toggle("desktop", button.dataset.width !== "mobile");
  for (const other of section.querySelectorAll("button.width-toggle")) {
    other.setAttribute("aria-pressed", String(other === button));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const textarea of document.querySelectorAll("textarea.post-text")) {
    textarea.addEventListener("input", () => updateCounter(textarea));
    updateCounter(textarea);
  }
  for (const button of document.querySelectorAll("button.width-toggle")) {
    button.addEventListener("click", () => setWidth(button));
  }
});
