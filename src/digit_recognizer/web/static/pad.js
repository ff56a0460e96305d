// The drawing pad: strokes with their pen width, undo/redo (Clear undoable too), drawn on a canvas.
//
// The same model as the desktop app's (digit_recognizer.ink): each change keeps the stroke
// lists before and after it, so undo and redo are one operation in both directions.

export const SIZES = { digit: [280, 280], number: [700, 280] }; // canvas units per mode

export class History {
  constructor() {
    this.strokes = [];
    this.undos = [];
    this.redos = [];
  }
  change(strokes) {
    this.undos.push([this.strokes, strokes]);
    this.strokes = strokes;
    this.redos = [];
  }
  add(stroke) { this.change([...this.strokes, stroke]); }
  clear() {
    if (!this.strokes.length) return false;
    this.change([]);
    return true;
  }
  undo() {
    const step = this.undos.pop();
    if (!step) return false;
    this.strokes = step[0];
    this.redos.push(step);
    return true;
  }
  redo() {
    const step = this.redos.pop();
    if (!step) return false;
    this.strokes = step[1];
    this.undos.push(step);
    return true;
  }
  // Every stroke held (shown, undone or cleared): what the paper must have room for.
  everyStroke() { return [this.strokes, ...this.undos.flat(), ...this.redos.flat()].flat(); }
}

export class Pad {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.history = new History();
    this.drawing = null; // the stroke under the pointer: {width, points}
    this.photo = null; // an opened image shown instead of strokes
    this.photoClearedInk = false; // opening it cleared a drawing (undo brings that back)
    this.mode = "digit";
    this.size = SIZES.digit; // the paper in canvas units: the mode's, or wider where the ink reaches further
    this.scale = 1; // backing-store pixels per canvas unit (sharp lines on high-DPI screens)
  }

  get strokes() { return this.history.strokes; }
  get isEmpty() { return !this.strokes.length && !this.drawing && !this.photo; }

  // Digit or number mode. The drawing (and its undo history, and an opened photo) stays as
  // drawn: no stroke moves; the paper grows past the mode's size where the ink reaches further.
  setMode(mode) {
    this.mode = mode;
    const [w, h] = SIZES[mode];
    let [right, bottom] = [0, 0];
    for (const stroke of this.history.everyStroke()) {
      const r = stroke.width / 2;
      for (const p of stroke.points) [right, bottom] = [Math.max(right, p.x + r), Math.max(bottom, p.y + r)];
    }
    this.size = [Math.max(w, Math.ceil(right)), Math.max(h, Math.ceil(bottom))];
    this.scale = Math.min(2, Math.max(1, window.devicePixelRatio || 1));
    this.canvas.width = Math.round(this.size[0] * this.scale);
    this.canvas.height = Math.round(this.size[1] * this.scale);
    this.redraw();
  }

  toCanvas(event) {
    const rect = this.canvas.getBoundingClientRect();
    const [w, h] = this.size;
    return { x: ((event.clientX - rect.left) * w) / rect.width, y: ((event.clientY - rect.top) * h) / rect.height };
  }

  begin(point, width) {
    if (this.photo) this.clear(); // drawing over a photo starts a fresh drawing
    this.drawing = { width, points: [point] };
    this.drawStroke(this.drawing, 0);
  }

  extend(points) {
    const from = this.drawing.points.length;
    this.drawing.points.push(...points);
    this.drawStroke(this.drawing, from);
  }

  end() {
    if (!this.drawing) return false;
    this.history.add(this.drawing);
    this.drawing = null;
    this.redraw();
    return true;
  }

  // Undo after opening a photo takes the photo away and brings back the drawing it replaced.
  undo() {
    if (this.drawing) return false;
    if (this.photo) {
      this.photo = null;
      if (this.photoClearedInk) this.history.undo();
      this.redraw();
      return true;
    }
    return this.history.undo() && (this.redraw(), true);
  }
  redo() { return !this.drawing && this.history.redo() && (this.redraw(), true); }
  clear() {
    this.drawing = null;
    const hadPhoto = Boolean(this.photo);
    this.photo = null;
    const cleared = this.history.clear();
    this.redraw();
    return cleared || hadPhoto;
  }

  // An opened image, shown instead of the strokes; `bitmap` null: one the browser cannot show
  // (a TIFF, say) but the server read: its name stands in for it.
  showPhoto(bitmap, name) {
    this.drawing = null;
    this.photoClearedInk = this.history.clear(); // undoable: the drawing is not lost
    this.photo = bitmap || { name };
    this.redraw();
  }

  redraw() {
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (this.photo && this.photo.width) {
      const fit = Math.min(this.canvas.width / this.photo.width, this.canvas.height / this.photo.height);
      const [w, h] = [this.photo.width * fit, this.photo.height * fit];
      ctx.drawImage(this.photo, (this.canvas.width - w) / 2, (this.canvas.height - h) / 2, w, h);
    } else if (this.photo) {
      ctx.fillStyle = "#5f6675";
      ctx.font = `${16 * this.scale}px system-ui, sans-serif`;
      ctx.textAlign = "center";
      ctx.fillText(`${this.photo.name}: no preview here`, this.canvas.width / 2, this.canvas.height / 2);
    }
    ctx.setTransform(this.scale, 0, 0, this.scale, 0, 0);
    for (const stroke of this.strokes) this.drawStroke(stroke, 0);
    if (this.drawing) this.drawStroke(this.drawing, 0);
  }

  // Draw a stroke from point `from` on; a single point is a dot. While the pen moves, new
  // segments are straight (cheap); a whole stroke is redrawn smooth, with quadratic curves
  // through the midpoints of its segments.
  drawStroke(stroke, from) {
    const ctx = this.ctx;
    const points = stroke.points;
    ctx.strokeStyle = ctx.fillStyle = "#111111";
    ctx.lineWidth = stroke.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(points[0].x, points[0].y, stroke.width / 2, 0, Math.PI * 2);
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

  // The drawing in the JSON-lines strokes format (digit_recognizer.ink): [[xs], [ys]] per stroke.
  toInk() {
    const round = (v) => Math.round(v * 100) / 100;
    return this.strokes.map((s) => [s.points.map((p) => round(p.x)), s.points.map((p) => round(p.y))]);
  }

  penWidth() {
    const widths = new Set(this.strokes.map((s) => s.width));
    return widths.size === 1 ? [...widths][0] : 18;
  }

  png() { return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png")); }
}
