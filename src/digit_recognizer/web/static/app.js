// Digit recognizer page: draw with mouse, finger or pen (or open a photo); see the answer while drawing.
//
// Modules: pad.js (strokes, undo/redo, the canvas), api.js (requests and what their failures
// mean), results.js (bars, preview, percentages), files.js (downloads), this file (the page). At most one request is in flight: while drawing, a new one
// goes out THROTTLE_MS after the last, and the latest drawing always wins. Every request
// carries a sequence number and the drawing's "epoch" (bumped when ink is taken away: undo,
// clear, mode): an answer for a drawing that no longer exists is dropped, never shown.
import { predict, correctionsStored, sendCorrection, modelCard, health } from "./api.js";
import { download, inkLines, stamp } from "./files.js";
import { Pad } from "./pad.js";
import { buildBars, percent, secondBest, showBars, showPreview } from "./results.js";

const THROTTLE_MS = 120; // live predictions while drawing: at most about 8 per second
const UPLOAD_SIDE = 1600; // a photo is shrunk to this many pixels on its longer side before it is sent
const TEXT = {
  digit: { prompt: "Draw a digit here", start: "Draw a digit to start.", right: "The right digit:" },
  number: { prompt: "Draw a number here, digits side by side", start: "Draw a number to start.",
    right: "The right number:" },
};

const $ = (id) => document.getElementById(id);
const pad = new Pad($("pad"));
const ui = {
  wrap: $("canvas-wrap"), prompt: $("prompt"), answer: $("answer"), detail: $("answer-detail"), status: $("status"),
  announce: $("announce"), bars: $("bars"), preview: $("preview"), chips: $("number-digits"), model: $("model-info"),
  undo: $("undo"), redo: $("redo"), clear: $("clear"), recognize: $("recognize"), save: $("save"),
  pen: $("pen"), penValue: $("pen-value"), photo: $("photo"), file: $("file"),
  wrong: $("wrong"), correction: $("correction"), correctionLabel: $("correction-label"),
  correctionPrompt: $("correction-prompt"), correctionCancel: $("correction-cancel"),
};

const state = {
  pointerId: null,
  seq: 0, // number of the latest request sent
  shownSeq: 0, // number of the request whose answer is shown
  epoch: 0, // bumped when ink is taken away: older answers describe a drawing that is gone
  version: 0, // bumped by every change: tells the current answer from a live one
  shownVersion: -1, // the version the shown answer is for (-1: none)
  inFlight: false,
  dirty: false,
  announceNext: false,
  lastSent: 0,
  timer: 0,
  selected: 0, // number mode: which digit's bars are shown
  lastResult: null,
  upload: null, // the opened photo or file, sent as it is
  storesCorrections: false,
};

// ------------------------------------------------------------------ drawing

function onPointerDown(event) {
  if (pad.drawing || (event.pointerType === "mouse" && event.button !== 0)) return;
  event.preventDefault();
  pad.canvas.setPointerCapture(event.pointerId);
  state.pointerId = event.pointerId;
  if (state.upload) {
    state.upload = null;
    state.epoch++;
  }
  pad.begin(pad.toCanvas(event), Number(ui.pen.value));
  closeCorrection();
  updateControls();
}

function onPointerMove(event) {
  if (!pad.drawing || event.pointerId !== state.pointerId) return;
  event.preventDefault();
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  pad.extend((events.length ? events : [event]).map((e) => pad.toCanvas(e)));
  scheduleRecognition(false);
}

function onPointerUp(event) {
  if (!pad.drawing || event.pointerId !== state.pointerId) return;
  pad.end();
  state.pointerId = null;
  updateControls();
  scheduleRecognition(true);
}

function changed(inkRemoved) {
  if (inkRemoved) state.epoch++;
  closeCorrection();
  updateControls();
  scheduleRecognition(true);
}

function undo() {
  const photo = Boolean(pad.photo);
  if (!pad.undo()) return;
  if (photo) state.upload = null; // back to the drawing the photo replaced
  changed(true);
}
const redo = () => pad.redo() && changed(true);
function clearPad() {
  state.upload = null;
  if (pad.clear()) changed(true);
}

function updateControls() {
  const empty = pad.isEmpty;
  ui.prompt.hidden = !empty;
  ui.undo.disabled = !pad.history.undos.length && !pad.photo;
  ui.redo.disabled = !pad.history.redos.length;
  ui.clear.disabled = empty;
  ui.recognize.disabled = empty;
  ui.save.disabled = !pad.strokes.length;
  ui.wrong.disabled = !answerIsCurrent() || !pad.strokes.length;
}

// ------------------------------------------------------------------ recognition

// Ask for a prediction: now (`final`, after a stroke) or throttled (while drawing).
function scheduleRecognition(final) {
  state.version++;
  ui.announce.textContent = ""; // emptied silently; the next answer is spoken when the pen lifts
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
  if (pad.isEmpty) {
    showEmpty();
    if (announce) ui.announce.textContent = "The drawing is empty.";
    return;
  }
  state.inFlight = true;
  state.lastSent = performance.now();
  const request = { seq: ++state.seq, epoch: state.epoch, version: state.version, mode: pad.mode };
  showWaiting();
  try {
    const body = state.upload || (await pad.png());
    const answer = await predict(body, request.mode);
    arrived(request, answer, announce);
  } finally {
    state.inFlight = false;
    if (state.dirty) {
      clearTimeout(state.timer);
      const wait = state.announceNext ? 0 : Math.max(0, state.lastSent + THROTTLE_MS - performance.now());
      state.timer = setTimeout(sendDrawing, wait);
    }
  }
}

function arrived(request, answer, announce) {
  const gone = request.epoch !== state.epoch || request.mode !== pad.mode || pad.isEmpty;
  if (gone || request.seq < state.shownSeq) return; // the drawing it describes no longer exists
  const current = request.version === state.version;
  if (!answer.ok) {
    showFailure(answer.message);
    if (announce && current) ui.announce.textContent = `Not recognized: ${answer.message}.`;
    return;
  }
  state.shownSeq = request.seq;
  state.shownVersion = request.version;
  showResult(answer.result, performance.now() - state.lastSent, announce && current);
  updateControls();
}

function answerIsCurrent() {
  return state.lastResult !== null && state.shownVersion === state.version && !state.dirty;
}

// ------------------------------------------------------------------ showing results

function showAnswer(text, stateName, detail) {
  ui.answer.textContent = text;
  ui.answer.dataset.state = stateName;
  ui.answer.style.fontSize = text.length > 3 ? `${Math.max(1.6, 4.2 - (text.length - 3) * 0.45)}rem` : "";
  ui.detail.textContent = detail;
}

function showEmpty() {
  state.lastResult = null;
  state.shownVersion = -1;
  showAnswer("?", "empty", TEXT[pad.mode].start);
  setStatus("");
  ui.chips.hidden = true;
  ui.chips.replaceChildren();
  showBars(ui.bars, []);
  showPreview(ui.preview, null);
  updateControls();
}

// A request is out: say so where the answer will appear (and keep an answer being refined).
function showWaiting() {
  if (state.lastResult === null || ui.answer.dataset.state === "empty") {
    showAnswer("…", "pending", "Recognizing…");
  }
  setStatus("recognizing…");
}

// The newest drawing could not be read: an older answer stays, marked as stale.
function showFailure(message) {
  setStatus(message, true);
  if (state.lastResult !== null) {
    ui.answer.dataset.state = "stale";
    ui.detail.textContent = "Old answer: the newest drawing could not be read.";
  } else {
    showAnswer("!", "stale", "Not recognized.");
  }
}

function setStatus(text, isError = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", isError);
}

function showResult(result, ms, announce) {
  state.lastResult = result;
  setStatus(`answered in ${Math.round(ms)} ms`);
  const multi = "number" in result;
  let spoken;
  if ((multi ? result.number : result.digit) === null) {
    showAnswer("–", "none", `No digit found: ${result.reason || "draw a little more"}.`);
    ui.chips.hidden = true;
    showBars(ui.bars, []);
    showPreview(ui.preview, null);
    spoken = "No digit found.";
  } else if (multi) {
    const sure = percent(result.confidence);
    const weakest = result.digits.reduce((a, b) => (b.confidence < a.confidence ? b : a));
    const unsure = weakest.confidence < 0.8;
    showAnswer(unsure ? `${result.number}?` : result.number, unsure ? "unsure" : "found", unsure
      ? `Not sure of the ${weakest.digit} (${percent(weakest.confidence)})`
      : `Number ${result.number}: ${sure} sure that all ${result.digits.length} digits are right`);
    showChips(result.digits);
    spoken = `Recognized the number ${result.number.split("").join(" ")}, ${sure} sure.`;
  } else {
    const runnerUp = secondBest(result.probabilities);
    const unsure = result.confidence < 0.8 && runnerUp;
    showAnswer(unsure ? `${result.digit} or ${runnerUp.digit}?` : String(result.digit), unsure ? "unsure" : "found",
      `${percent(result.confidence)} sure` + (runnerUp ? `; next: ${runnerUp.digit} (${percent(runnerUp.p)})` : ""));
    ui.chips.hidden = true;
    showBars(ui.bars, result.probabilities);
    showPreview(ui.preview, result.preview);
    spoken = unsure ? `Maybe ${result.digit}, or ${runnerUp.digit}.` :
      `Recognized ${result.digit}, ${percent(result.confidence)} sure.`;
  }
  if (announce) ui.announce.textContent = spoken;
}

// Number mode: one button per digit found; clicking one shows its bars. The buttons are
// updated in place, so the one clicked keeps the keyboard focus.
function showChips(digits) {
  if (state.selected >= digits.length) state.selected = 0;
  ui.chips.hidden = false;
  while (ui.chips.children.length > digits.length) ui.chips.lastChild.remove();
  while (ui.chips.children.length < digits.length) ui.chips.append(makeChip(ui.chips.children.length));
  digits.forEach((d, i) => {
    const chip = ui.chips.children[i];
    chip.setAttribute("aria-pressed", String(i === state.selected));
    chip.setAttribute("aria-label", `digit ${i + 1}: ${d.digit}, ${percent(d.confidence)}; show its probabilities`);
    showPreview(chip.querySelector("canvas"), d.preview);
    chip.querySelector("b").textContent = d.digit;
    chip.querySelector("small").textContent = percent(d.confidence);
  });
  showBars(ui.bars, digits[state.selected].probabilities);
  showPreview(ui.preview, digits[state.selected].preview);
}

function makeChip(index) {
  const chip = document.createElement("button");
  chip.type = "button";
  chip.className = "chip";
  const mini = document.createElement("canvas");
  mini.width = mini.height = 28;
  mini.setAttribute("aria-hidden", "true");
  chip.append(mini, document.createElement("b"), document.createElement("small"));
  chip.addEventListener("click", () => {
    state.selected = index;
    if (state.lastResult && state.lastResult.digits) showChips(state.lastResult.digits);
  });
  return chip;
}

// One line about the model: its file (which model answers: shipped or personal), then from its card
// how big it is and how accurate on MNIST.
async function showModel() {
  const [status, card] = await Promise.all([health(), modelCard()]);
  if (!status && !card) return; // a nicety; drawing works without it
  const parts = [`Model ${(status && status.model) || (card && card.name) || "?"}`];
  if (!card) {
    ui.model.textContent = parts[0];
    return;
  }
  if (card.parameters) parts.push(`${card.parameters.toLocaleString("en-US")} parameters`);
  const accuracy = card.metrics && card.metrics.test_accuracy;
  if (accuracy) parts.push(`${(accuracy * 100).toFixed(2)}% right on the MNIST test digits`);
  ui.model.textContent = parts.join(" · ");
}

// ------------------------------------------------------------------ photos and files

// A phone photo is 12 megapixels or more: far more than a digit needs, and more than the server
// takes. It is shrunk here first. A file the browser cannot decode (a TIFF) is sent as it is,
// since the server may read it; one nobody can read is refused in words, and the drawing and
// the answer on screen stay as they were.
async function openImage(input) {
  const file = input.files && input.files[0];
  input.value = "";
  if (!file) return;
  setStatus(`reading ${file.name}…`);
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" }).catch(() => null);
  if (!bitmap && !(await serverReads(file))) {
    setStatus(`Can't read this file (${file.name}): it is not an image. Open a PNG, JPEG, TIFF or WebP.`, true);
    return;
  }
  const body = bitmap ? await shrunk(bitmap, file) : file;
  const answer = await predict(body, pad.mode);
  if (!answer.ok) {
    setStatus(`Can't read this file (${file.name}): ${answer.message}.`, true);
    return;
  }
  pad.showPhoto(bitmap, file.name);
  state.upload = body;
  state.epoch++;
  closeCorrection();
  updateControls();
  const request = { seq: ++state.seq, epoch: state.epoch, version: ++state.version, mode: pad.mode };
  state.lastSent = performance.now();
  arrived(request, answer, true);
}

// Images the server reads but browsers do not show, told by their first bytes: TIFF, PGM/PPM/PBM.
async function serverReads(file) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const text = String.fromCharCode(...head);
  return text === "II*\0" || text === "MM\0*" || /^P[1-6]\s/.test(text);
}

// The photo as a JPEG of at most UPLOAD_SIDE pixels a side (the file itself when it is small enough).
async function shrunk(bitmap, file) {
  const fit = Math.min(1, UPLOAD_SIDE / Math.max(bitmap.width, bitmap.height));
  if (fit === 1) return file;
  const canvas = Object.assign(document.createElement("canvas"), {
    width: Math.round(bitmap.width * fit), height: Math.round(bitmap.height * fit),
  });
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  return new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" });
}

// ------------------------------------------------------------------ saving and corrections

async function saveDrawing() {
  if (!pad.strokes.length) return;
  download(await pad.png(), `${pad.mode}-${stamp()}.png`);
}

function openCorrection() {
  if (ui.wrong.disabled) return;
  const result = state.lastResult;
  ui.correctionPrompt.textContent = TEXT[pad.mode].right;
  ui.correctionLabel.value = ("number" in result ? result.number : String(result.digit)) || "";
  ui.correction.hidden = false;
  ui.correctionLabel.focus();
  ui.correctionLabel.select();
}

function closeCorrection() { ui.correction.hidden = true; }

async function submitCorrection(event) {
  event.preventDefault();
  const label = ui.correctionLabel.value.replace(/\s/g, "");
  const single = pad.mode === "digit";
  if (!/^[0-9]+$/.test(label) || (single && label.length !== 1)) {
    setStatus(single ? "Type one digit, 0-9." : "Type the number with the digits 0-9 only.", true);
    return;
  }
  const result = single ? state.lastResult : splitAs(label.length);
  if (!result) return;
  const [width, height] = [pad.canvas.width / pad.scale, pad.canvas.height / pad.scale];
  const correction = { label, drawing: pad.toInk(), pen: pad.penWidth(), width, height };
  closeCorrection();
  if (state.storesCorrections) {
    const answer = await sendCorrection(correction);
    setStatus(answer.ok ? `Thanks! Stored as ${label} on the server.` : `Not stored: ${answer.message}`, !answer.ok);
    return;
  }
  download(await pad.png(), `${label}-${stamp()}.png`);
  const lines = inkLines(correction, result, pad.scale);
  download(new Blob([lines], { type: "application/x-ndjson" }), `${label}-${stamp()}.ndjson`);
  setStatus(`This server does not store corrections: the drawing, labelled ${label}, was downloaded instead.`);
}

// A number correction needs one digit per digit drawn: each is saved with the strokes of its
// own box. A label of another length is refused in words, and the form stays open to fix it.
function splitAs(count) {
  const read = state.lastResult;
  const found = read.digits ? read.digits.length : 1;
  if (found === count) return read;
  const digits = `${found} digit${found === 1 ? "" : "s"}`;
  setStatus(`The drawing shows ${digits}, not ${count}: type ${digits}, or draw the number again with ` +
    "its digits apart.", true);
  return null;
}

// ------------------------------------------------------------------ modes and keys

// The drawing (or the opened photo) stays as it is, undo history and all, and is read again
// in the new mode: switching is how a user asks "and as a number?".
function setMode(mode) {
  state.epoch++; // an answer on its way is for the other mode
  state.selected = 0;
  document.body.classList.toggle("number-mode", mode === "number");
  pad.setMode(mode);
  ui.wrap.style.aspectRatio = `${pad.size[0]} / ${pad.size[1]}`;
  pad.canvas.setAttribute(
    "aria-label", `Drawing area: draw ${mode === "digit" ? "a digit" : "a number"} with a mouse, a finger or a pen`);
  ui.prompt.textContent = TEXT[mode].prompt;
  closeCorrection();
  if (pad.isEmpty) showEmpty();
  else scheduleRecognition(true);
}

// The desktop app's keys: Enter recognize, Esc or Delete clear, Ctrl+Z undo, Ctrl+Y redo, Ctrl+M mode, Ctrl+S save.
function onKey(event) {
  const inField = event.target.closest && event.target.closest("input[type=text], input:not([type]), form");
  const onControl = event.target.closest && event.target.closest("button, input, a");
  const ctrl = (event.ctrlKey || event.metaKey) && !event.altKey;
  const key = event.key.toLowerCase();
  if (inField) {
    if (key === "escape") closeCorrection();
    return; // typing a correction: the keys are the field's
  }
  const actions = {
    escape: !ctrl && clearPad,
    delete: !ctrl && clearPad,
    enter: !ctrl && !onControl && (() => scheduleRecognition(true)),
    z: ctrl && (event.shiftKey ? redo : undo),
    y: ctrl && redo,
    m: ctrl && (() => switchMode(pad.mode === "digit" ? "number" : "digit")),
    s: ctrl && saveDrawing,
  };
  const action = Object.hasOwn(actions, key) && actions[key];
  if (action) {
    event.preventDefault();
    action();
  }
}

function switchMode(mode) {
  document.querySelector(`input[name="mode"][value="${mode}"]`).checked = true;
  setMode(mode);
}

async function start() {
  buildBars(ui.bars);
  const canvas = pad.canvas;
  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerUp);
  canvas.addEventListener("pointercancel", onPointerUp);
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  ui.undo.addEventListener("click", undo);
  ui.redo.addEventListener("click", redo);
  ui.clear.addEventListener("click", clearPad);
  ui.recognize.addEventListener("click", () => scheduleRecognition(true));
  ui.save.addEventListener("click", saveDrawing);
  ui.pen.addEventListener("input", () => { ui.penValue.textContent = ui.pen.value; });
  ui.photo.addEventListener("change", () => openImage(ui.photo));
  ui.file.addEventListener("change", () => openImage(ui.file));
  ui.wrong.addEventListener("click", openCorrection);
  ui.correction.addEventListener("submit", submitCorrection);
  ui.correctionCancel.addEventListener("click", closeCorrection);
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => radio.checked && setMode(radio.value));
  }
  document.addEventListener("keydown", onKey);
  const checked = document.querySelector('input[name="mode"]:checked');
  setMode(checked ? checked.value : "digit");
  showModel();
  state.storesCorrections = await correctionsStored();
}

start();
