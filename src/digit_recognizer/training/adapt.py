"""`digits adapt`: fine-tune a model on one person's corrections, so it learns their handwriting.

The apps save every "Wrong?" as a labelled PNG (``<dir>/<digit>/<stamp>.png``) and,
where the drawing came from a pen, its strokes beside it (``<stamp>.ndjson``). This
module reads that folder, keeps a fixed, seeded part of each digit aside to measure
on, and fine-tunes the model's PyTorch weights (``model.pt`` beside the ONNX file):

- the person's digits: each PNG through the apps' own preprocessing, and each set of
  strokes re-drawn several times at other pen widths, sizes and places on a canvas,
  so a few dozen corrections teach a style rather than a few pictures;
- replay of the general training data (MNIST, UNIPEN training writers and the
  "not a digit" marks) in every batch, so the model keeps reading everyone else;
  the person's digits fill a fixed share of each batch, which weights them far above
  their count;
- batch-norm statistics frozen: a few hundred images must not move the statistics
  that 100,000 set;
- the temperature re-fitted on the general validation split (UNIPEN validation
  writers + junk) and baked into the exported ONNX, so confidence keeps its meaning.

The result (ONNX + card + ``.pt``) is written atomically: an app starting meanwhile
sees the old personal model or the new one, never half a file.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import data as mnist
from .. import synth
from ..ink import InkFormatError, Stroke, read_ndjson
from ..predict import IMAGE_SUFFIXES
from ..preprocess import ImageError, NoDigit, preprocess
from ..recognizer import shipped_model_path
from . import handwriting
from .augment import augment
from .calibrate import calibration_summary, fit_temperature
from .checkpoint import refused_load
from .config import HOLDOUT_SHARE, MIN_CORRECTIONS, AdaptConfig, TrainConfig
from .export import export_onnx, sha256_file
from .loop import load_weights, predict_logits, save_weights

HOLDOUT_SEED = 20261121


class AdaptError(Exception):
    """The corrections or the base model cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Correction:
    """One saved correction: its picture, the digit it shows, and its strokes when they were saved."""

    image: Path
    label: int
    strokes: tuple[Stroke, ...] | None = None


@dataclass
class Corrections:
    items: list[Correction]
    notes: list[str] = field(default_factory=list)  # what was skipped, and why

    def per_digit(self) -> dict[str, int]:
        counts = Counter(c.label for c in self.items)
        return {str(d): counts[d] for d in range(10)}


@dataclass
class AdaptResult:
    out: Path
    base: Path
    card: dict[str, Any]
    notes: list[str]


# --------------------------------------------------------------------------- reading the corrections


def read_corrections(folder: Path) -> Corrections:
    """Every labelled image under ``folder/0`` ... ``folder/9``, with its strokes where saved.

    Raises AdaptError when ``folder`` is not a folder or has no digit subfolders;
    files that are not images, unreadable strokes and stray folders are skipped with a note.
    """
    layout = "a folder with subfolders 0 to 9 holding the images of each digit (what the apps' 'Wrong?' saves)"
    if not folder.is_dir():
        raise AdaptError(f"{folder} is not a folder. --corrections takes {layout}.")
    digit_dirs = [folder / str(d) for d in range(10) if (folder / str(d)).is_dir()]
    if not digit_dirs:
        raise AdaptError(f"{folder} has no subfolders 0 to 9. --corrections takes {layout}.")
    found = Corrections([])
    others = sorted(p.name for p in folder.iterdir() if p.is_dir() and p not in digit_dirs)
    if others:
        found.notes.append(f"skipped folders that are not digits 0-9: {', '.join(others)}")
    for directory in digit_dirs:
        label = int(directory.name)
        not_images = []
        for path in sorted(p for p in directory.iterdir() if p.is_file()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                found.items.append(Correction(path, label, _strokes_beside(path, label, found.notes)))
            elif path.suffix != ".ndjson":
                not_images.append(path.name)
        if not_images:
            found.notes.append(f"skipped {len(not_images)} file(s) in {directory} that are not images: {not_images[0]}")
    return found


def _strokes_beside(image: Path, label: int, notes: list[str]) -> tuple[Stroke, ...] | None:
    path = image.with_suffix(".ndjson")
    if not path.is_file():
        return None
    try:
        samples = list(read_ndjson(path))
    except (InkFormatError, OSError) as exc:
        notes.append(f"ignored the strokes of {image.name} (using its picture): {exc}")
        return None
    if not samples or samples[0].label != label:
        notes.append(f"ignored the strokes of {image.name}: they are labelled differently from its folder")
        return None
    return samples[0].strokes


def check_enough(corrections: Corrections, folder: Path) -> None:
    n = len(corrections.items)
    if n < MIN_CORRECTIONS:
        raise AdaptError(
            f"{folder} holds {n} correction(s); adapting needs at least {MIN_CORRECTIONS} "
            "(a fifth is kept aside to check the result). Correct more digits with 'Wrong?' in "
            "`digits draw` or `digits serve`, then run `digits adapt` again."
        )


def holdout_split(items: list[Correction], seed: int = HOLDOUT_SEED) -> tuple[list[Correction], list[Correction]]:
    """(learn, kept aside): a fixed, seeded fifth of each digit's corrections is kept aside.

    Seeded by the digit and sorted by file name, so a correction once kept aside stays
    aside when more are added later (unless the shuffle of its digit changes with the count).
    """
    learn: list[Correction] = []
    held: list[Correction] = []
    for digit in range(10):
        mine = sorted((c for c in items if c.label == digit), key=lambda c: c.image.name)
        keep = math.floor(len(mine) * HOLDOUT_SHARE + 0.5) if len(mine) >= 3 else 0
        order = np.random.default_rng([seed, digit]).permutation(len(mine))
        held += [mine[i] for i in order[:keep]]
        learn += [mine[i] for i in order[keep:]]
    return learn, held


# --------------------------------------------------------------------------- images


def picture_input(path: Path) -> np.ndarray | None:
    """A saved picture as the apps see it (uint8 28x28), None when it holds no digit or cannot be read."""
    try:
        return np.round(preprocess(path) * 255).astype(np.uint8)
    except (ImageError, NoDigit, OSError):
        return None


def personal_images(
    items: list[Correction], redraws: int, seed: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each correction's picture, plus ``redraws`` canvas re-drawings of its strokes: uint8 (N, 28, 28), labels."""
    rng = np.random.default_rng([seed, 7])
    images, labels = [], []
    unusable = []
    for item in items:
        picture = picture_input(item.image)
        if picture is None:
            unusable.append(item.image.name)
        else:
            images.append(picture)
            labels.append(item.label)
        for _ in range(redraws if item.strokes else 0):
            drawn = handwriting.as_model_input(synth.canvas(item.strokes or (), rng))
            if drawn is not None:
                images.append(drawn)
                labels.append(item.label)
    if unusable:
        notes.append(f"{len(unusable)} picture(s) hold no readable digit and were left out: {unusable[0]}")
    return _stack(images), np.array(labels, dtype=np.int64)


def held_out_images(items: list[Correction]) -> tuple[np.ndarray, np.ndarray]:
    """The kept-aside corrections' pictures through the apps' preprocessing (unreadable ones dropped)."""
    pairs = [(x, c.label) for c in items if (x := picture_input(c.image)) is not None]
    return _stack([x for x, _ in pairs]), np.array([y for _, y in pairs], dtype=np.int64)


def replay_images(base: TrainConfig, cfg: AdaptConfig, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """General training data to mix in: MNIST, UNIPEN training writers, and junk for 11-class models."""
    train = mnist.load_split("train", data_dir)
    pick = np.random.default_rng([cfg.seed, 11]).choice(len(train), min(cfg.replay_mnist, len(train)), replace=False)
    parts = [(train.images[pick], train.labels[pick].astype(np.int64))]
    x, y, _ = handwriting.unipen_images("train", 1, 0, limit=cfg.replay_unipen_limit)
    parts.append((x, y))
    if base.model.classes > handwriting.NOT_A_DIGIT and cfg.replay_junk:
        junk = handwriting.junk_images(cfg.replay_junk, 2)
        parts.append((junk, np.full(len(junk), handwriting.NOT_A_DIGIT, dtype=np.int64)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def general_validation(base: TrainConfig, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The base model's validation writers (UNIPEN val) and junk, as `digits train` made them."""
    x, y, _ = handwriting.unipen_images("val", 1, 0, limit=limit)
    if base.model.classes > handwriting.NOT_A_DIGIT and base.junk:
        junk = handwriting.junk_images(max(100, base.junk // 10), 1)
        x = np.concatenate([x, junk])
        y = np.concatenate([y, np.full(len(junk), handwriting.NOT_A_DIGIT, dtype=np.int64)])
    return x, y


def _stack(images: list[np.ndarray]) -> np.ndarray:
    return np.stack(images) if images else np.zeros((0, 28, 28), dtype=np.uint8)


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1)


# --------------------------------------------------------------------------- fine-tuning


def fine_tune(
    model: nn.Module,
    personal: tuple[np.ndarray, np.ndarray],
    replay: tuple[np.ndarray, np.ndarray],
    base: TrainConfig,
    cfg: AdaptConfig,
    progress: Callable[[str], None] = lambda line: None,
) -> int:
    """Fine-tune ``model`` in place; returns the number of optimizer steps taken."""
    px, py = _tensor(personal[0]), torch.from_numpy(personal[1])
    rx, ry = _tensor(replay[0]), torch.from_numpy(replay[1])
    mine = max(1, round(cfg.batch_size * cfg.personal_share))
    steps = min(cfg.max_steps, cfg.epochs * max(1, math.ceil(len(py) / mine)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=base.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # dropout
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()  # keep the general statistics
    for step in range(steps):
        i = torch.randint(len(py), (mine,), generator=gen)
        j = torch.randint(len(ry), (cfg.batch_size - mine,), generator=gen)
        x = torch.cat([px[i], rx[j]]).float().div_(255)
        y = torch.cat([py[i], ry[j]])
        x = augment(x, base.augmentation, gen)
        loss = F.cross_entropy(model(x), y, label_smoothing=base.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % 25 == 0 or step == steps - 1:
            progress(f"  step {step + 1}/{steps}  loss {loss.item():.4f}")
    model.eval()
    return steps


def digit_accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float | None:
    """Share of ``x`` read as ``y`` (None for no images)."""
    if len(y) == 0:
        return None
    logits = predict_logits(model, _tensor(x), torch.device("cpu"))
    return float((logits.argmax(1).numpy() == y).mean())


# --------------------------------------------------------------------------- the command


def base_weights(model_path: Path | None) -> tuple[Path, Path]:
    """(onnx, pt) of the model to start from; AdaptError when its PyTorch weights are missing."""
    onnx_path = Path(model_path) if model_path is not None else shipped_model_path()
    weights = onnx_path.with_suffix(".pt")
    if not weights.is_file():
        where = "the installed package" if model_path is None else "a run folder of `digits train`"
        raise AdaptError(
            f"{weights} not found: fine-tuning needs the PyTorch weights beside the ONNX model "
            f"(`digits train` writes model.pt beside model.onnx). Use --model with a model.onnx from {where} "
            "that has its .pt."
        )
    return onnx_path, weights


def adapt(
    corrections_dir: Path,
    out: Path,
    *,
    model_path: Path | None = None,
    data_dir: str | None = None,
    cfg: AdaptConfig | None = None,
    log: Callable[[str], None] = print,
) -> AdaptResult:
    """Read the corrections, fine-tune, measure before/after, write ONNX + card + .pt atomically to ``out``."""
    start = time.perf_counter()
    cfg = cfg or AdaptConfig()
    corrections = read_corrections(corrections_dir)
    check_enough(corrections, corrections_dir)
    base_onnx, weights = base_weights(model_path)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        model, base_cfg, _ = load_weights(weights)
    except Exception as exc:  # torch.load and the config check raise many kinds; all mean "not usable"
        why = refused_load(exc)
        raise AdaptError(f"{weights} is not usable weights from `digits train` ({why})") from None
    model.eval()
    learn, held = holdout_split(corrections.items)
    notes = list(corrections.notes)
    personal = personal_images(learn, cfg.redraws, cfg.seed, notes)
    if len(personal[1]) < MIN_CORRECTIONS // 2:
        raise AdaptError(f"only {len(personal[1])} of the corrections in {corrections_dir} hold a readable digit.")
    held_x, held_y = held_out_images(held)
    with_strokes = sum(c.strokes is not None for c in learn)
    log(
        f"digits adapt: {len(corrections.items)} corrections in {corrections_dir} "
        f"({len(learn)} to learn from, {with_strokes} with strokes re-drawn {cfg.redraws}x; {len(held)} kept aside)"
    )
    for note in notes:
        log(f"  note: {note}")
    log("  loading replay data (MNIST, UNIPEN training writers) and the validation writers ...")
    replay = replay_images(base_cfg, cfg, data_dir)
    val_x, val_y = general_validation(base_cfg, cfg.validation_limit)
    before = {"held_out": digit_accuracy(model, held_x, held_y), "general": digit_accuracy(model, val_x, val_y)}
    log(
        f"  fine-tuning {base_onnx.name} on {len(personal[1])} images of your digits + {len(replay[1]):,} replayed "
        f"({torch.get_num_threads()} threads) ..."
    )
    steps = fine_tune(model, personal, replay, base_cfg, cfg, log)
    after = {"held_out": digit_accuracy(model, held_x, held_y), "general": digit_accuracy(model, val_x, val_y)}
    logits = predict_logits(model, _tensor(val_x), torch.device("cpu")).double().numpy()
    temperature = fit_temperature(logits, val_y)
    seconds = time.perf_counter() - start
    card_extra = {
        "base_model": {"path": str(base_onnx), "sha256": sha256_file(base_onnx)},
        "corrections": len(corrections.items),
        "corrections_per_digit": corrections.per_digit(),
        "kept_aside": len(held_y),
        "folder": str(corrections_dir),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "before": before,
        "after": after,
        "general_validation": f"UNIPEN validation writers and 'not a digit' marks, {len(val_y):,} images",
        "config": {**asdict(cfg), "steps": steps},
        "seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    calibration = calibration_summary(logits, val_y, temperature)
    card = write_model(model, base_cfg, temperature, out, val_x[:512], card_extra, calibration, base_onnx)
    return AdaptResult(out, base_onnx, card, notes)


def write_model(
    model: nn.Module,
    base_cfg: TrainConfig,
    temperature: float,
    out: Path,
    sample: np.ndarray,
    adapted: dict[str, Any],
    calibration: dict[str, Any],
    base_onnx: Path,
) -> dict[str, Any]:
    """ONNX, card and weights, each written to a temporary file then moved into place (the ONNX last)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = {suffix: out.parent / f".{out.stem}.{os.getpid()}.tmp{suffix}" for suffix in (".onnx", ".json", ".pt")}
    try:
        card = export_onnx(model, tmp[".onnx"], _tensor(sample), temperature=temperature)
        card["name"] = "personal"
        card["calibration"] = calibration
        card["adapted"] = adapted
        base_card = base_onnx.with_suffix(".json")
        if base_card.is_file():
            base = json.loads(base_card.read_text())
            card["data"] = base.get("data")
            card["base_metrics"] = base.get("metrics")
        tmp[".json"].write_text(json.dumps(card, indent=2))
        save_weights(tmp[".pt"], model, base_cfg, temperature)
        for suffix in (".pt", ".json", ".onnx"):
            os.replace(tmp[suffix], out.with_suffix(suffix))
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    return card
