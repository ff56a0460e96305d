"""Metrics and reports: accuracy, per-class precision and recall, confusion, calibration, mistakes.

Works on probabilities, so it serves both MNIST (already-normalized 28x28 arrays)
and folders of people's own images (which go through preprocessing first).
Matplotlib is imported only when plots are written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .recognizer import NO_DIGIT

if TYPE_CHECKING:
    from .recognizer import Recognizer

WORST_MISTAKES = 36


@dataclass
class Report:
    """What `digits evaluate` prints; ``to_dict`` is its ``--json`` form."""

    accuracy: float
    n: int
    precision: list[float]
    recall: list[float]
    confusion: list[list[int]]  # rows: true digit, columns: predicted digit
    ece: float  # expected calibration error, 15 equal-width confidence bins
    mistakes: list[dict[str, Any]] = field(default_factory=list)  # worst first
    source: str = ""
    model: str = ""
    no_digit: int = 0  # images in which no digit was found (counted as wrong)
    unreadable: list[dict[str, str]] = field(default_factory=list)  # files left out: {"path", "error"}
    images: np.ndarray | None = field(default=None, repr=False)  # (N, 28, 28) for the mistakes grid

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "images"}


def compute_report(probabilities: np.ndarray, labels: np.ndarray, **meta: Any) -> Report:
    """All metrics from (N, 10) probabilities and (N,) true labels.

    A row of all zeros means "no digit found": it counts as wrong and stays out of
    the confusion matrix.
    """
    found = probabilities.sum(1) > 0
    predicted = np.where(found, probabilities.argmax(1), -1)
    confidence = probabilities.max(1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels[found], predicted[found]), 1)
    true_pos = np.diag(confusion).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(true_pos / confusion.sum(0))
        recall = np.nan_to_num(true_pos / confusion.sum(1))
    wrong = np.flatnonzero(predicted != labels)
    worst = wrong[np.argsort(-confidence[wrong])][:WORST_MISTAKES]
    mistakes = [
        {"index": int(i), "label": int(labels[i]), "predicted": int(predicted[i]), "confidence": float(confidence[i])}
        for i in worst
    ]
    return Report(
        accuracy=float((predicted == labels).mean()) if len(labels) else 0.0,
        n=len(labels),
        precision=[round(float(p), 6) for p in precision],
        recall=[round(float(r), 6) for r in recall],
        confusion=confusion.tolist(),
        ece=expected_calibration_error(confidence[found], (predicted == labels)[found]),
        mistakes=mistakes,
        no_digit=int((~found).sum()),
        **meta,
    )


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def evaluate_onnx(model_path: Path | str | None, images: np.ndarray, labels: np.ndarray, source: str = "") -> Report:
    """Evaluate an ONNX model on MNIST-normalized uint8 images (N, 28, 28)."""
    from .recognizer import Recognizer

    recognizer = Recognizer.load(model_path)
    probabilities = digit_probabilities(recognizer, images.astype(np.float32) / 255)
    return compute_report(probabilities, labels, model=str(recognizer.path), images=images, source=source)


def digit_probabilities(recognizer: Recognizer, arrays: np.ndarray) -> np.ndarray:
    """(N, 10) digit probabilities; a row of zeros where the model says "not a digit" (counted as wrong)."""
    scores = recognizer.scores(arrays)
    probabilities = scores[:, :NO_DIGIT].copy()
    probabilities[scores[:, NO_DIGIT] > probabilities.max(1)] = 0
    return probabilities


def evaluate_mnist(model_path: Path | str | None, data_dir: str | None = None) -> Report:
    """The MNIST test set (10,000 images), fed to the model as MNIST made them."""
    from . import data

    test = data.load_split("test", data_dir)
    return evaluate_onnx(model_path, test.images, test.labels, source=f"MNIST test set, {len(test)} images")


def labelled_images(folder: Path) -> list[tuple[Path, int]]:
    """(path, label) for every image in folder/0 ... folder/9, sorted."""
    return [(path, label) for path, label, problem in labelled_entries(folder) if problem is None]


def labelled_entries(folder: Path) -> list[tuple[Path, int, str | None]]:
    """(path, label, None) for every image in folder/0 ... folder/9, (path, label, why) for what cannot be read."""
    from .predict import walk

    if not folder.is_dir():
        raise FileNotFoundError(folder)
    return [(p, d, why) for d in range(10) if (folder / str(d)).is_dir() for p, why in walk([folder / str(d)])]


def evaluate_folder(model_path: Path | str | None, folder: Path) -> Report:
    """Your own labelled images (folder/0 ... folder/9) through the apps' recognition path.

    A file that cannot be read (not an image, damaged, a FIFO...) is no answer at all,
    right or wrong: it is left out of the figures and listed in ``unreadable``.
    """
    from .data import DataError
    from .imagefile import describe
    from .preprocess import ImageError, NoDigit, preprocess
    from .recognizer import Recognizer

    recognizer = Recognizer.load(model_path)
    try:
        entries = labelled_entries(folder)
    except FileNotFoundError:
        raise DataError(f"{folder} is not a folder. --images takes a folder with subfolders 0 to 9.") from None
    if not entries:
        raise DataError(
            f"No images found in {folder}/0 ... {folder}/9. Put each image in the subfolder named after its digit."
        )
    unreadable = [{"path": str(p), "error": why} for p, _, why in entries if why is not None]
    items: list[tuple[Path, int]] = []
    arrays: list[np.ndarray] = []
    digit_found: list[bool] = []
    for path, label, why in entries:
        if why is not None:
            continue
        try:
            arrays.append(preprocess(path))
            digit_found.append(True)
        except NoDigit:
            arrays.append(np.zeros((28, 28), np.float32))  # readable, no digit: a wrong answer
            digit_found.append(False)
        except ImageError as exc:
            unreadable.append({"path": str(path), "error": str(exc)})
            continue
        except Exception as exc:  # one file's failure never stops the evaluation
            unreadable.append({"path": str(path), "error": f"could not be read ({describe(exc)})"})
            continue
        items.append((path, label))
    if not items:
        raise DataError(f"None of the {len(entries)} files in {folder}/0 ... {folder}/9 could be read as an image.")
    stacked, found = np.stack(arrays), np.array(digit_found)
    probabilities = np.zeros((len(items), 10), dtype=np.float32)
    probabilities[found] = digit_probabilities(recognizer, stacked[found])
    labels = np.array([label for _, label in items])
    report = compute_report(
        probabilities,
        labels,
        model=str(recognizer.path),
        source=f"{folder}, {len(items)} images",
        images=(stacked * 255).astype(np.uint8),
    )
    report.unreadable = sorted(unreadable, key=lambda u: u["path"])
    return report


def format_report(report: Report) -> str:
    """A fixed-column table for the terminal."""
    lines = [
        f"model     {report.model}",
        f"data      {report.source}",
        f"accuracy  {report.accuracy:.2%}  ({round(report.accuracy * report.n)}/{report.n})",
        f"ECE       {report.ece:.4f}",
        *([f"no digit  {report.no_digit} images (counted as wrong)"] if report.no_digit else []),
        *([f"unread    {len(report.unreadable)} files (not counted; listed on stderr)"] if report.unreadable else []),
        "",
        "digit  precision  recall  support",
    ]
    for digit in range(10):
        support = sum(report.confusion[digit])
        lines.append(f"{digit:>5}  {report.precision[digit]:>9.4f}  {report.recall[digit]:>6.4f}  {support:>7}")
    lines += ["", "confusion (rows: true, columns: predicted)", "     " + "".join(f"{d:>6}" for d in range(10))]
    lines += [f"{d:>5}" + "".join(f"{c:>6}" for c in row) for d, row in enumerate(report.confusion)]
    if report.mistakes:
        worst = ", ".join(f"{m['label']}→{m['predicted']} ({m['confidence']:.2f})" for m in report.mistakes[:8])
        lines += ["", f"most confident mistakes (true→predicted): {worst}"]
    return "\n".join(lines)


def write_report(report: Report, out_dir: Path, history: list[dict[str, Any]] | None = None) -> list[Path]:
    """report.json plus confusion.png, mistakes.png and (for training runs) curves.png."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2))
    written = [out_dir / "report.json", _plot_confusion(report, out_dir / "confusion.png")]
    if report.images is not None and report.mistakes:
        written.append(_plot_mistakes(report, out_dir / "mistakes.png"))
    if history:
        written.append(_plot_curves(history, out_dir / "curves.png"))
    return written


def _plot_confusion(report: Report, path: Path) -> Path:
    import matplotlib.pyplot as plt

    matrix = np.array(report.confusion)
    fig, ax = plt.subplots(figsize=(6, 5.4))
    shown = matrix.astype(float)
    np.fill_diagonal(shown, np.nan)  # the diagonal would drown out the errors
    image = ax.imshow(shown, cmap="Reds")
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, str(count), ha="center", va="center", fontsize=7, color="gray" if row == col else "black")
    ax.set(
        xticks=range(10),
        yticks=range(10),
        xlabel="predicted",
        ylabel="true",
        title=f"confusion (errors only coloured), accuracy {report.accuracy:.2%}",
    )
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_mistakes(report: Report, path: Path) -> Path:
    import matplotlib.pyplot as plt

    assert report.images is not None
    cols = 9
    rows = (len(report.mistakes) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, m in zip(np.atleast_1d(axes).ravel()[: len(report.mistakes)], report.mistakes, strict=True):
        ax.imshow(report.images[m["index"]], cmap="gray")
        ax.set_title(f"{m['label']}→{m['predicted']} {m['confidence']:.2f}", fontsize=7)
    fig.suptitle("most confident mistakes (true→predicted, confidence)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_curves(history: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(epochs, [h["train_loss"] for h in history], marker="o")
    left.set(xlabel="epoch", ylabel="training loss", title="loss")
    right.plot(epochs, [h["train_acc"] for h in history], marker="o", label="train (augmented)")
    if "val_acc" in history[0]:
        right.plot(epochs, [h["val_acc"] for h in history], marker="o", label="validation")
    right.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
