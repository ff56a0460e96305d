// Files the page hands to the user: a drawing, a labelled correction in the strokes format.

export function stamp() { return new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-"); }

export function download(blob, name) {
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// The JSON-lines strokes format (digit_recognizer.ink), one line per digit: a number's strokes
// go to the digit box they overlap most, as the server and the desktop app cut them (equal
// columns when the answer found another number of digits than the label has).
export function inkLines(correction, result, scale) {
  const digits = correction.label.split("");
  const found = result && result.digits && result.digits.length === digits.length;
  const column = correction.width / digits.length;
  const boxes = found ? result.digits.map((d) => d.box.map((v) => v / scale))
    : digits.map((_, i) => [i * column, 0, (i + 1) * column, correction.height]);
  const groups = digits.map(() => []);
  correction.drawing.forEach((stroke) => {
    const [x0, x1] = [Math.min(...stroke[0]), Math.max(...stroke[0])];
    const overlap = (b) => Math.min(x1, b[2]) - Math.max(x0, b[0]);
    let best = 0;
    boxes.forEach((b, i) => { if (overlap(b) > overlap(boxes[best])) best = i; });
    groups[best].push(stroke);
  });
  const lines = digits.map((label, i) => groups[i].length &&
    JSON.stringify({ label, writer: "", drawing: groups[i], pen: correction.pen }));
  return lines.filter(Boolean).join("\n") + "\n";
}
