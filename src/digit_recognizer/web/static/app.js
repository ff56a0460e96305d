// Digit recognizer page: draw with mouse, finger or pen; see the model's answer while drawing.
//
// Strokes are kept as point lists (so undo can redraw), the canvas is sent as a PNG to
// POST /api/predict?preview=true, and at most one request is in flight: while drawing,
// a new one goes out THROTTLE_MS after the last, and the latest drawing always wins.
"use strict";

const THROTTLE_MS = 120; // live predictions while drawing: at most about 8 per second
const LINE_WIDTH = 18; // pen width in canvas units (the digit pad is 280 wide, like a 10x MNIST field)
const SIZES = { digit: [280, 280], number: [700, 280] }; // canvas units per mode
const TEXT = {
  digit: { prompt: "Draw a digit here", start: "Draw a digit to start." },
  number: { prompt: "Draw a number here, digits side by side", start: "Draw a number to start." },
};

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const ui = {
  prompt: $("prompt"), answer: $("answer"), detail: $("answer-detail"), status: $("status"),
  announce: $("announce"), bars: $("bars"), preview: $("preview"), chips: $("number-digits"), model: $("model-info"),
  undo: $("undo"), clear: $("clear"), recognize: $("recognize"),
};

const state = {
  mode: "digit",
  strokes: [], // each stroke: [{x, y}, ...] in canvas units
  drawing: null, // the stroke under the pointer, or null
  pointerId: null,
  scale: 1, // backing-store pixels per canvas unit (sharp lines on high-DPI screens)
  inFlight: false,
  dirty: false,
  announceNext: false,
  lastSent: 0,
  timer: 0,
  selected: 0, // number mode: which digit's bars are shown
  lastResult: null,
  version: 0, // bumped by every change to the drawing: tells a current answer from a stale one
};

// ------------------------------------------------------------------ drawing

function setUpCanvas() {
  const [w, h] = SIZES[state.mode];
  state.scale = Math.min(2, Math.max(1, window.devicePixelRatio || 1));
  pad.width = Math.round(w * state.scale);
  pad.height = Math.round(h * state.scale);
  pad.setAttribute(
    "aria-label",
    `Drawing area: draw ${state.mode === "digit" ? "a digit" : "a number"} with a mouse, a finger or a pen`,
  );
  ui.prompt.textContent = TEXT[state.mode].prompt;
  redraw();
}

function redraw() {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.setTransform(state.scale, 0, 0, state.scale, 0, 0);
  ctx.strokeStyle = "#111111";
  ctx.fillStyle = "#111111";
  ctx.lineWidth = LINE_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const stroke of state.strokes) drawStroke(stroke, 0);
  if (state.drawing) drawStroke(state.drawing, 0);
}

// Draw a stroke from point `from` on; a single point is a dot. While the pen moves, new
// segments are straight (cheap); a whole stroke is redrawn smooth, with quadratic curves
// through the midpoints of its segments.
function drawStroke(points, from) {
  if (points.length === 1) {
    ctx.beginPath();
    ctx.arc(points[0].x, points[0].y, LINE_WIDTH / 2, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  const start = points[Math.max(0, from - 1)];
  ctx.moveTo(start.x, start.y);
  if (from > 0) {
    for (let i = from; i < points.length; i++) ctx.lineTo(points[i].x, points[i].y);
  } else {
    for (let i = 1; i < points.length - 1; i++) {
      const [p, q] = [points[i], points[i + 1]];
      ctx.quadraticCurveTo(p.x, p.y, (p.x + q.x) / 2, (p.y + q.y) / 2);
    }
    ctx.lineTo(points[points.length - 1].x, points[points.length - 1].y);
  }
  ctx.stroke();
}

function toCanvas(event) {
  const rect = pad.getBoundingClientRect();
  const [w, h] = SIZES[state.mode];
  return { x: ((event.clientX - rect.left) * w) / rect.width, y: ((event.clientY - rect.top) * h) / rect.height };
}

function onPointerDown(event) {
  if (state.drawing || (event.pointerType === "mouse" && event.button !== 0)) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  state.pointerId = event.pointerId;
  state.drawing = [toCanvas(event)];
  drawStroke(state.drawing, 0);
  updateControls();
}

function onPointerMove(event) {
  if (!state.drawing || event.pointerId !== state.pointerId) return;
  event.preventDefault();
  const from = state.drawing.length;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const e of events.length ? events : [event]) state.drawing.push(toCanvas(e));
  drawStroke(state.drawing, from);
  scheduleRecognition(false);
}

function onPointerUp(event) {
  if (!state.drawing || event.pointerId !== state.pointerId) return;
  state.strokes.push(state.drawing);
  state.drawing = null;
  state.pointerId = null;
  redraw();
  updateControls();
  scheduleRecognition(true);
}

function undo() {
  if (!state.strokes.length) return;
  state.strokes.pop();
  redraw();
  updateControls();
  scheduleRecognition(true);
}

function clearPad() {
  state.strokes = [];
  state.drawing = null;
  redraw();
  updateControls();
  scheduleRecognition(true);
}

function updateControls() {
  const empty = !state.strokes.length && !state.drawing;
  ui.prompt.hidden = !empty;
  ui.undo.disabled = !state.strokes.length;
  ui.clear.disabled = empty;
  ui.recognize.disabled = empty;
}

// ------------------------------------------------------------------ recognition

// Ask for a prediction: now (`final`, after a stroke) or throttled (while drawing).
function scheduleRecognition(final) {
  state.version++;
  ui.announce.textContent = "";
  state.dirty = true;
  state.announceNext ||= final;
  if (state.inFlight) return; // the answer's arrival sends the latest drawing
  const wait = final ? 0 : Math.max(0, state.lastSent + THROTTLE_MS - performance.now());
  clearTimeout(state.timer);
  state.timer = setTimeout(sendDrawing, wait);
}

async function sendDrawing() {
  if (!state.dirty || state.inFlight) return;
  state.dirty = false;
  const announce = state.announceNext;
  state.announceNext = false;
  if (!state.strokes.length && !state.drawing) {
    showEmpty();
    if (announce) ui.announce.textContent = "The drawing is empty.";
    return;
  }
  state.inFlight = true;
  state.lastSent = performance.now();
  const mode = state.mode;
  const version = state.version;
  try {
    const body = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
    const response = await fetch(`/api/predict?preview=true&multi=${mode === "number"}`, {
      method: "POST",
      headers: { "Content-Type": "image/png" },
      body,
    });
    const result = await response.json();
    const stillValid = mode === state.mode && (state.strokes.length || state.drawing);
    const current = version === state.version; // nothing drawn since: this is the answer to announce
    if (!response.ok) showError(result.error || `the server answered ${response.status}`);
    else if (stillValid) showResult(result, performance.now() - state.lastSent, announce && current);
  } catch (error) {
    showError(`cannot reach the server (${error.message}); is \`digits serve\` still running?`);
  } finally {
    state.inFlight = false;
    if (state.dirty) {
      clearTimeout(state.timer);
      const wait = state.announceNext ? 0 : Math.max(0, state.lastSent + THROTTLE_MS - performance.now());
      state.timer = setTimeout(sendDrawing, wait);
    }
  }
}

// ------------------------------------------------------------------ showing results

function buildBars() {
  for (let digit = 0; digit < 10; digit++) {
    const li = document.createElement("li");
    li.innerHTML = `<span class="digit">${digit}</span><span class="track"><span class="fill"></span></span>` +
      `<span class="pct">0%</span>`;
    ui.bars.append(li);
  }
}

function showBars(probabilities) {
  const best = probabilities.length ? probabilities.indexOf(Math.max(...probabilities)) : -1;
  [...ui.bars.children].forEach((li, digit) => {
    const p = probabilities[digit] || 0;
    li.classList.toggle("best", digit === best);
    li.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector(".pct").textContent = percent(p);
    li.setAttribute("aria-label", `${digit}: ${percent(p)}`);
  });
}

function showPreview(canvas, rows) {
  const c = canvas.getContext("2d");
  const image = c.createImageData(28, 28);
  (rows || []).flat().forEach((v, i) => image.data.set([v, v, v, 255], i * 4));
  if (!rows) for (let i = 3; i < image.data.length; i += 4) image.data[i] = 255;
  c.putImageData(image, 0, 0);
}

function showAnswer(text, stateName, detail) {
  ui.answer.textContent = text;
  ui.answer.dataset.state = stateName;
  ui.answer.style.fontSize = text.length > 3 ? `${Math.max(1.6, 4.2 - (text.length - 3) * 0.45)}rem` : "";
  ui.detail.textContent = detail;
}

function showEmpty() {
  state.lastResult = null;
  showAnswer("?", "empty", TEXT[state.mode].start);
  ui.status.textContent = "";
  ui.status.classList.remove("error");
  ui.chips.hidden = true;
  ui.chips.replaceChildren();
  showBars([]);
  showPreview(ui.preview, null);
}

function showResult(result, ms, announce) {
  state.lastResult = result;
  ui.status.classList.remove("error");
  ui.status.textContent = `answered in ${Math.round(ms)} ms`;
  const multi = "number" in result;
  let spoken;
  if ((multi ? result.number : result.digit) === null) {
    showAnswer("–", "none", `No digit found: ${result.reason || "draw a little more"}.`);
    ui.chips.hidden = true;
    showBars([]);
    showPreview(ui.preview, null);
    spoken = "No digit found.";
  } else if (multi) {
    const sure = percent(result.confidence);
    const count = result.digits.length;
    showAnswer(result.number, "found", `Number ${result.number}: ${sure} sure that all ${count} digits are right`);
    showChips(result.digits);
    spoken = `Recognized the number ${result.number.split("").join(" ")}, ${sure} sure.`;
  } else {
    const runnerUp = secondBest(result.probabilities);
    showAnswer(String(result.digit), "found", `${percent(result.confidence)} sure` +
      (runnerUp ? `; next: ${runnerUp.digit} (${percent(runnerUp.p)})` : ""));
    ui.chips.hidden = true;
    showBars(result.probabilities);
    showPreview(ui.preview, result.preview);
    spoken = `Recognized ${result.digit}, ${percent(result.confidence)} sure.`;
  }
  if (announce) ui.announce.textContent = spoken;
}

function showChips(digits) {
  if (state.selected >= digits.length) state.selected = 0;
  ui.chips.hidden = false;
  ui.chips.replaceChildren(...digits.map((d, i) => {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip";
    chip.setAttribute("aria-pressed", String(i === state.selected));
    chip.setAttribute("aria-label", `digit ${i + 1}: ${d.digit}, ${percent(d.confidence)}; show its probabilities`);
    const mini = document.createElement("canvas");
    mini.width = mini.height = 28;
    showPreview(mini, d.preview);
    chip.append(mini, Object.assign(document.createElement("b"), { textContent: d.digit }),
      Object.assign(document.createElement("small"), { textContent: percent(d.confidence) }));
    chip.addEventListener("click", () => {
      state.selected = i;
      showChips(digits);
    });
    return chip;
  }));
  showBars(digits[state.selected].probabilities);
  showPreview(ui.preview, digits[state.selected].preview);
}

function showError(message) {
  ui.status.textContent = message;
  ui.status.classList.add("error");
}

function secondBest(probabilities) {
  const order = probabilities.map((p, digit) => ({ p, digit })).sort((a, b) => b.p - a.p);
  return order[1] && order[1].p >= 0.01 ? order[1] : null;
}

// 0.4% and 7.5% keep a decimal (small alternatives matter); 24% and 99% do not.
function percent(p) {
  if (p > 0 && p < 0.0005) return "<0.1%";
  return p < 0.0995 ? `${(p * 100).toFixed(1)}%` : `${Math.round(p * 100)}%`;
}

// One line about the model from its card: which model, how big, how accurate on MNIST.
async function showModel() {
  try {
    const card = await (await fetch("/api/model")).json();
    const parts = [`Model ${card.name || "?"}`];
    if (card.parameters) parts.push(`${card.parameters.toLocaleString("en-US")} parameters`);
    const accuracy = card.metrics && card.metrics.test_accuracy;
    if (accuracy) {
      const images = (card.metrics.test_images || 10000).toLocaleString("en-US");
      parts.push(`${(accuracy * 100).toFixed(2)}% right on the ${images} MNIST test digits`);
    }
    ui.model.textContent = parts.join(" · ");
  } catch {
    ui.model.textContent = ""; // the card is a nicety; drawing works without it
  }
}

// ------------------------------------------------------------------ modes and keys

function setMode(mode) {
  state.mode = mode;
  state.strokes = [];
  state.drawing = null;
  state.selected = 0;
  document.body.classList.toggle("number-mode", mode === "number");
  setUpCanvas();
  updateControls();
  showEmpty();
}

// Save the drawing as a PNG file (Ctrl+S, as in the desktop app).
function saveDrawing() {
  if (!state.strokes.length) return;
  pad.toBlob((blob) => {
    const link = Object.assign(document.createElement("a"), {
      href: URL.createObjectURL(blob),
      download: `${state.mode}-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}.png`,
    });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }, "image/png");
}

// The desktop app's keys: Enter recognize, Esc or Delete clear, Ctrl+Z undo, Ctrl+M mode, Ctrl+S save.
function onKey(event) {
  const onControl = event.target.closest && event.target.closest("button, input, a");
  const ctrl = (event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey;
  const key = event.key.toLowerCase();
  const actions = {
    escape: !ctrl && clearPad,
    delete: !ctrl && clearPad,
    enter: !ctrl && !onControl && (() => scheduleRecognition(true)),
    z: ctrl && undo,
    m: ctrl && (() => switchMode(state.mode === "digit" ? "number" : "digit")),
    s: ctrl && saveDrawing,
  };
  const action = Object.hasOwn(actions, key) && actions[key];
  if (action) {
    event.preventDefault();
    action();
  }
}

function switchMode(mode) {
  const radio = document.querySelector(`input[name="mode"][value="${mode}"]`);
  radio.checked = true;
  setMode(mode);
}

function start() {
  buildBars();
  pad.addEventListener("pointerdown", onPointerDown);
  pad.addEventListener("pointermove", onPointerMove);
  pad.addEventListener("pointerup", onPointerUp);
  pad.addEventListener("pointercancel", onPointerUp);
  pad.addEventListener("contextmenu", (e) => e.preventDefault());
  ui.undo.addEventListener("click", undo);
  ui.clear.addEventListener("click", clearPad);
  ui.recognize.addEventListener("click", () => scheduleRecognition(true));
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => radio.checked && setMode(radio.value));
  }
  document.addEventListener("keydown", onKey);
  const checked = document.querySelector('input[name="mode"]:checked');
  setMode(checked ? checked.value : "digit");
  showModel();
}

start();
