"""Real writers' handwriting: UNIPEN writers held out of training, drawn as the apps receive them.

The headline accuracy figure. MNIST test accuracy says little about a European 1, a
crossed 7 or a tight crop of a form, so this measures on people the model never
saw (UNIPEN "test" writers, split by writer) in the input styles people produce,
each image sent whole through ``Recognizer.predict`` as the apps do:

  canvas       a brush on a 200-420 px canvas, random size (35-85%) and place, both polarities
  small        10-20% of the canvas height, near a corner
  tight-scan   binarized, cropped to the digit's box (ink touches the edges), 32 px, upscaled 4-8x
  stretched    box-stretched 16x16 bitmap (aspect lost), upscaled 8-16x
  mnist-png    the 10,000 MNIST test digits as PNG files
  junk         taps, dots, dashes, specks, scribbles: must be refused (digit None)

Per style: accuracy, refused digits, lowest per-class recall, top confusions. Then
the junk refusal rate, and the expected calibration error (ECE, 15 bins) of the
confidences on the held-out writers' canvas drawings. ``--figure`` draws the most
confident mistakes.

Usage:  python benchmarks/bench_handwriting.py [--model PATH] [--seed 0] [--junk 1000] [--figure docs/handwriting.png]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from digit_recognizer import NoDigit, Recognizer, data, synth, unipen, variation
from digit_recognizer.evaluation import expected_calibration_error
from digit_recognizer.preprocess import find_ink, load_gray, normalize, stray_mark
from digit_recognizer.recognizer import NO_DIGIT, UNSURE_BELOW


def as_png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def measure(recognizer: Recognizer, images: list, labels: np.ndarray) -> dict:
    predictions = recognizer.predict_batch(images)
    read = np.array([-1 if p.digit is None else p.digit for p in predictions])
    confidence = np.array([p.confidence for p in predictions])
    recall = {d: float((read[labels == d] == d).mean()) for d in range(10) if (labels == d).any()}
    mistakes = Counter(f"{t}→{r if r >= 0 else '∅'}" for t, r in zip(labels, read, strict=True) if t != r)
    return {
        "n": len(labels),
        "accuracy": float((read == labels).mean()),
        "refused": int((read < 0).sum()),
        "recall": recall,
        "mistakes": mistakes,
        "read": read,
        "confidence": confidence,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--writers",
        choices=("test", "val"),
        default="test",
        help="UNIPEN writers to measure on: test (the benchmark) or val (for tuning a recipe; default test)",
    )
    parser.add_argument("--junk", type=int, default=1000, help="junk images (default 1000)")
    parser.add_argument(
        "--mnist", type=int, default=10000, help="MNIST test digits as PNG (default all 10,000; 0 skips them)"
    )
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITS_DATA_DIR or the cache)")
    parser.add_argument("--figure", default=None, help="save the most confident mistakes to this PNG")
    parser.add_argument(
        "--write-card", action="store_true", help="record the figures in the model card (the .json beside the model)"
    )
    args = parser.parse_args()

    recognizer = Recognizer.load(args.model)
    writers = unipen.load((args.writers,))
    strokes = [s.strokes for s in writers.samples]
    labels = np.array([s.label for s in writers.samples])
    import onnxruntime

    print(
        f"handwriting benchmark: {len(labels)} digits by {len(writers.writers)} UNIPEN {args.writers} writers "
        "held out of training, "
        f"seed {args.seed}\nmodel {recognizer.path.name}; python {platform.python_version()}, "
        f"onnxruntime {onnxruntime.__version__}, {platform.machine()}"
    )
    print(f"{'style':<12}{'n':>7}{'accuracy':>10}{'refused':>9}{'min recall':>12}  top confusions (true→read)")
    results, shown = {}, {}
    for k, (name, style) in enumerate(synth.STYLES.items()):
        rng = np.random.default_rng(args.seed * 100 + k)
        images = [style(s, rng) for s in strokes]
        results[name] = measure(recognizer, images, labels)
        shown[name] = images
        _row(name, results[name])

    print_per_writer(results, [s.writer for s in writers.samples], labels)
    print_generated_styles(recognizer, writers.samples, args.seed)

    if args.mnist:
        test = data.load_split("test", args.data_dir)
        n = min(args.mnist, len(test))
        results["mnist-png"] = measure(recognizer, [as_png(255 - img) for img in test.images[:n]], test.labels[:n])
        _row("mnist-png", results["mnist-png"])

    rng = np.random.default_rng(args.seed + 7)
    kinds = [synth.JUNK_KINDS[i % len(synth.JUNK_KINDS)] for i in range(args.junk)]
    junk_images = [synth.junk(rng, kind) for kind in kinds]
    junk = recognizer.predict_batch(junk_images)
    kept = Counter(kind for kind, p in zip(kinds, junk, strict=True) if p.digit is not None)
    refused = sum(p.digit is None for p in junk) / max(1, len(junk))
    print(f"{'junk':<12}{len(junk):>7}{'':>10}{refused:>9.2%}  refused; read as a digit: {dict(kept) or 'none'}")
    print_refusal_methods(recognizer, junk_images, shown["canvas"] + shown["small"])

    writers_digits = sum(results[s]["refused"] for s in synth.STYLES)
    total = sum(results[s]["n"] for s in synth.STYLES)
    worst_refusal = max(synth.STYLES, key=lambda s: results[s]["refused"])
    print(
        f"real digits refused in the worst style ({worst_refusal}): "
        f"{results[worst_refusal]['refused'] / results[worst_refusal]['n']:.2%}"
    )
    canvas = results["canvas"]
    ece = expected_calibration_error(canvas["confidence"], canvas["read"] == labels)
    print(f"real digits refused: {writers_digits / total:.2%} of {total}; ECE on held-out writers' canvases: {ece:.4f}")
    answered = canvas["read"] >= 0
    unsure = answered & (canvas["confidence"] < UNSURE_BELOW)
    right = canvas["read"] == labels
    print(
        f"unsure (< {UNSURE_BELOW:.0%}): {unsure.mean():.2%} of canvas answers, right {right[unsure].mean():.1%} "
        f"of the time; sure answers right {right[answered & ~unsure].mean():.2%}"
    )
    if args.write_card:
        figures = {name: round(r["accuracy"], 5) for name, r in results.items() if name != "per_writer"}
        figures |= {f"refused_{s}": round(results[s]["refused"] / results[s]["n"], 5) for s in synth.STYLES}
        figures["per_writer"] = results["per_writer"]
        record_in_card(recognizer, figures | {"junk_refused": round(refused, 5), "ece_canvas": round(ece, 5)}, args)
    if args.figure:
        save_mistakes(shown, results, labels, args.figure)


def print_generated_styles(recognizer: Recognizer, samples: tuple, seed: int) -> None:
    """The styles the data lacks (a flag on a 1, a crossed 7...) drawn onto held-out writers' digits, as canvases."""
    rng = np.random.default_rng(seed + 11)
    row = []
    for label, makers in variation.GENERATED_STYLES.items():
        for name, make in makers.items():
            own = [s for s in samples if s.label == label]
            images = [synth.canvas(make(s.strokes, rng), rng) for s in own]
            read = [p.digit for p in recognizer.predict_batch(images)]
            row.append(f"{name} {np.mean([r == label for r in read]):.1%}")
    print("generated styles on these writers' digits (canvas): " + "; ".join(row))


def per_writer(results: dict, writers: list[str], labels: np.ndarray) -> dict[str, float]:
    """Each writer's accuracy over all the writer styles together (every digit drawn once in each)."""
    ok = np.concatenate([results[style]["read"] == labels for style in synth.STYLES])
    return _by_writer(ok, writers * len(synth.STYLES))


def print_per_writer(results: dict, writers: list[str], labels: np.ndarray, below: float = 0.97) -> None:
    """The worst writers, so that "every writer" is measured and not only the mean."""
    accuracy = per_writer(results, writers, labels)
    worst = sorted(accuracy.items(), key=lambda kv: kv[1])[:5]
    per_style = {style: min(_by_writer(results[style]["read"] == labels, writers).values()) for style in synth.STYLES}
    print(
        f"per writer (all 4 styles): worst 5 {', '.join(f'{a:.1%}' for _, a in worst)}; "
        f"{sum(a < below for a in accuracy.values())} of {len(accuracy)} writers below {below:.0%}; "
        f"worst writer per style: {', '.join(f'{s} {a:.1%}' for s, a in per_style.items())}"
    )
    results["per_writer"] = {
        "worst5": [round(a, 5) for _, a in worst],
        "below_97": sum(a < below for a in accuracy.values()),
    }
    results["per_writer"]["worst_per_style"] = {s: round(a, 5) for s, a in per_style.items()}


def _by_writer(ok: np.ndarray, writers: list[str]) -> dict[str, float]:
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for writer, good in zip(writers, ok, strict=True):
        right[writer] += int(good)
        seen[writer] += 1
    return {w: right[w] / seen[w] for w in seen}


def record_in_card(recognizer: Recognizer, figures: dict, args: argparse.Namespace) -> None:
    """Write the figures into the model card, with the command that measured them."""
    card_path = recognizer.path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card.setdefault("metrics", {})["handwriting_benchmark"] = {
        "command": "python benchmarks/bench_handwriting.py" + (f" --seed {args.seed}" if args.seed else ""),
        "writers": "UNIPEN test writers (held out of training and validation)",
        "accuracy": figures,
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"figures recorded in {card_path}")


def refusals(recognizer: Recognizer, images: list) -> tuple[np.ndarray, np.ndarray]:
    """Per image: refused by the stray-mark rule; refused by the model's "not a digit" class, rule off."""
    by_rule, arrays = [], []
    for image in images:
        try:
            ink, labels = find_ink(load_gray(image))
        except NoDigit:
            by_rule.append(True)
            arrays.append(np.zeros((28, 28), np.float32))
            continue
        by_rule.append(stray_mark(labels) is not None)
        arrays.append(normalize(ink))
    scores = recognizer.scores(np.stack(arrays))
    by_model = scores[:, NO_DIGIT] > scores[:, :NO_DIGIT].max(1)
    return np.array(by_rule), by_model


def print_refusal_methods(recognizer: Recognizer, junk: list, digits: list) -> None:
    """The "no digit" answer measured both ways: the rule alone, the learned class alone, both."""
    junk_rule, junk_model = refusals(recognizer, junk)
    digit_rule, digit_model = refusals(recognizer, digits)
    print(f"no-digit answer    {'junk refused':>13}{'digits refused':>16}   (digits: canvas + small styles)")
    for name, j, d in (
        ("rule only", junk_rule, digit_rule),
        ("learned only", junk_model, digit_model),
        ("rule + learned", junk_rule | junk_model, digit_rule | digit_model),
    ):
        print(f"  {name:<16}{j.mean():>13.2%}{d.mean():>16.2%}")


def _row(name: str, r: dict) -> None:
    worst = ", ".join(f"{m} ×{c}" for m, c in r["mistakes"].most_common(5))
    low = min(r["recall"].items(), key=lambda kv: kv[1])
    print(f"{name:<12}{r['n']:>7}{r['accuracy']:>10.2%}{r['refused']:>9}{low[1]:>9.1%} ({low[0]})  {worst}")


def save_mistakes(shown: dict, results: dict, labels: np.ndarray, path: str, count: int = 24) -> None:
    """The most confident mistakes over the writers' styles, each tile labelled true→read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wrong = [
        (results[s]["confidence"][i], s, i)
        for s in synth.STYLES
        for i in np.flatnonzero(results[s]["read"] != labels)
        if results[s]["read"][i] >= 0
    ]
    wrong.sort(reverse=True)
    cols = 8
    fig, axes = plt.subplots(max(1, -(-min(count, len(wrong)) // cols)), cols, figsize=(cols * 1.3, 4.6))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, (conf, style, i) in zip(np.ravel(axes), wrong[:count], strict=False):
        ax.imshow(shown[style][i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{labels[i]}→{results[style]['read'][i]} {conf:.0%}\n{style}", fontsize=7)
    fig.suptitle("Most confident mistakes on held-out UNIPEN writers (true→read, confidence)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"figure saved to {path}")


if __name__ == "__main__":
    t0 = time.perf_counter()
    try:
        main()
    except data.DataError as exc:  # no MNIST here: say how to get it, as `digits` does
        raise SystemExit(f"error: {exc}") from None
    print(f"({time.perf_counter() - t0:.0f} s)")
