// The page of `cnn serve`: draw on the canvas (mouse, pen or finger, through pointer events); a moment
// after the last stroke the drawing goes to POST /predict as a PNG, and the answer and the picture the
// network saw come back. Plain JavaScript, no library, nothing loaded from elsewhere.
"use strict";

const TOP_K = 3;
const DEBOUNCE_MS = 150; // after a pause this long in drawing, predict: fast enough to feel live
const INK = 20; // stroke width on the 280 px canvas: about an MNIST pen stroke once scaled to 28 px

const canvas = document.getElementById("canvas");
const pen = canvas.getContext("2d");
const answers = document.getElementById("answers");
const seen = document.getElementById("seen");
const status = document.getElementById("status");
let drawing = null; // the pointer drawing now, and where it was
let timer = null;
let asked = 0; // a counter, so that only the newest answer is shown

function clear() {
  asked++; // an answer still on its way is for the old drawing
  clearTimeout(timer);
  timer = null;
  answers.setAttribute("aria-busy", "false");
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, canvas.width, canvas.height);
  answers.replaceChildren();
  seen.removeAttribute("src");
  status.textContent = "";
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

function stroke(from, to) {
  pen.strokeStyle = "#000";
  pen.lineWidth = INK;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(...from);
  pen.lineTo(...to);
  pen.stroke();
}

canvas.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  drawing = { id: event.pointerId, at: point(event) };
  stroke(drawing.at, drawing.at);
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing || event.pointerId !== drawing.id) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const each of events.length ? events : [event]) {
    const to = point(each);
    stroke(drawing.at, to);
    drawing.at = to;
  }
  later();
});
for (const name of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(name, (event) => {
    if (drawing && event.pointerId === drawing.id) {
      drawing = null;
      later();
    }
  });
}

function later() {
  answers.setAttribute("aria-busy", "true"); // until the answer to the newest drawing is shown
  clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    canvas.toBlob((png) => ask(png, "image/png"));
  }, DEBOUNCE_MS);
}

async function ask(body, type) {
  const mine = ++asked;
  answers.setAttribute("aria-busy", "true");
  try {
    const reply = await fetch(`predict?top_k=${TOP_K}&show=png`, {
      method: "POST", body, headers: { "Content-Type": type || "application/octet-stream" },
    });
    const answer = await reply.json();
    if (mine !== asked) return; // a newer drawing has been sent since
    if (!reply.ok) {
      const failed = answer.results && answer.results[0] && answer.results[0].error;
      status.textContent = failed || (answer.error ? answer.error.message : `error ${reply.status}`);
    } else {
      show(answer[0]);
    }
  } catch (error) {
    if (mine !== asked) return;
    status.textContent = `no answer: ${error.message}`;
  }
  if (mine === asked && timer === null) answers.setAttribute("aria-busy", "false");
}

function show(result) {
  status.textContent = "";
  if (result.seen) seen.src = result.seen;
  answers.replaceChildren(...result.top_k.map(({ label, confidence }) => {
    const item = document.createElement("li");
    const name = Object.assign(document.createElement("span"), { className: "label", textContent: label });
    const bar = Object.assign(document.createElement("span"), { className: "bar" });
    bar.style.width = `${Math.max(1, Math.round(100 * confidence))}%`;
    const share = Object.assign(document.createElement("span"), {
      className: "share", textContent: `${(100 * confidence).toFixed(1)}%`,
    });
    item.append(name, bar, share);
    return item;
  }));
}

document.getElementById("clear").addEventListener("click", clear);
document.getElementById("file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) ask(file, file.type);
});

fetch("model").then((reply) => reply.json()).then((model) => {
  const name = model.model || "a model";
  const dataset = model.metadata && model.metadata.dataset ? ` trained on ${model.metadata.dataset.name}` : "";
  document.getElementById("model").textContent = `${name}${dataset}: ${model.classes} classes`;
}).catch(() => {});

clear();
