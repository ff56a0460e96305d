"""`digits train-numbers`: the sequence reader (CRNN + CTC) trained on composed numbers, exported to ONNX.

Reads top to bottom: config, model, data, one epoch, the run, export. References:
Shi, Bai and Yao (2015), "An end-to-end trainable neural network for image-based
sequence recognition" (CRNN); Graves et al. (2006), "Connectionist temporal
classification". Classes 0-9 are the digits, 10 is CTC's blank (``ctc.BLANK``).

The data is composed once per run (``training/numbers.py``: UNIPEN training writers,
MNIST training digits), held in memory as uint8 line images, and batched by width so
that padding stays small. Each epoch is committed to ``last.pt`` (atomically, with the
config), so an interrupted run resumes where it stopped: ``--resume runs/numbers/exp/last.pt``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import ctc, unipen
from .. import data as mnist
from . import numbers
from .checkpoint import atomic_write, claim_run_dir, next_run_dir, write_json
from .config import TrainingError
from .export import sha256_file
from .model import parameter_count

STATE_FORMAT = "digits-numbers-state/1"


@dataclass(frozen=True)
class SequenceConfig:
    """Everything that makes a run; saved with every checkpoint and in the model card."""

    epochs: int = 16
    numbers: int = 28_000  # composed training numbers (UNIPEN writers and MNIST digits)
    val_numbers: int = 600  # composed from UNIPEN validation writers, for model selection
    mnist_share: float = 0.25  # of the training numbers made of MNIST digits
    batch_size: int = 32
    lr: float = 2e-3  # peak of the one-cycle schedule
    channels: tuple[int, int, int] = (24, 48, 64)
    hidden: int = 64  # LSTM units per direction
    seed: int = 0
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SequenceConfig:
        raw = dict(raw)
        raw["channels"] = tuple(raw["channels"])
        return cls(**raw)


# --------------------------------------------------------------------------- model


class NumberNet(nn.Module):
    """CNN encoder over a (B, 1, 32, W) line, BiLSTM over its W/4 columns, (B, W/4, 11) logits."""

    def __init__(self, channels: tuple[int, int, int] = (24, 48, 64), hidden: int = 64) -> None:
        super().__init__()
        c1, c2, c3 = channels

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.encoder = nn.Sequential(
            *block(1, c1),
            nn.MaxPool2d(2),  # (B, c1, 16, W/2)
            *block(c1, c2),
            nn.MaxPool2d(2),  # (B, c2, 8, W/4)
            *block(c2, c3),
            nn.MaxPool2d((2, 1)),  # (B, c3, 4, W/4)
        )
        self.rnn = nn.LSTM(c3 * 4, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, ctc.CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.encoder(x)  # (B, C, 4, T)
        b, c, h, t = f.shape
        f = f.permute(0, 3, 1, 2).reshape(b, t, c * h)  # (B, T, C*4)
        out, _ = self.rnn(f)  # (B, T, 2*hidden)
        return self.head(out)  # (B, T, CLASSES) logits


# --------------------------------------------------------------------------- data


@dataclass
class Lines:
    """Composed numbers as line images (uint8, white ink on black, width varies) and their digits."""

    images: list[np.ndarray]
    texts: list[str]
    spacings: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def compose(count: int, split: str, seed: int, mnist_share: float, data_dir: str | None) -> tuple[Lines, str]:
    """``count`` numbers from UNIPEN writers of ``split`` (and, for training, MNIST digits); the UNIPEN sha256."""
    from tqdm import tqdm

    source = unipen.load((split,))  # type: ignore[arg-type]
    writers = numbers.by_writer(source.samples)
    names = sorted(writers)
    digits = mnist.load_split("train", data_dir) if mnist_share > 0 else None
    rng = np.random.default_rng([seed, 1 if split == "train" else 2])
    lines = Lines([], [], [])
    with tqdm(total=count, desc=f"composing {split} numbers", unit="number", disable=None) as bar:
        while len(lines) < count:
            length, spacing = numbers.length_for(rng), numbers.spacing_for(rng)
            if digits is not None and rng.random() < mnist_share:
                made = numbers.compose_mnist(digits.images, digits.labels, length, spacing, rng)
            else:
                made = numbers.compose_unipen(writers[names[int(rng.integers(len(names)))]], length, spacing, rng)
            line = numbers.as_line(made.image)
            if line is None or ctc.frames_for(line.shape[1]) < 2 * len(made.text) + 1:
                continue  # too narrow for CTC to place every digit and the blanks between repeats
            lines.images.append(line)
            lines.texts.append(made.text)
            lines.spacings.append(made.spacing)
            bar.update()
    return lines, source.sha256


def batches(lines: Lines, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices of each batch: numbers of similar width together (little padding), batches in random order."""
    order = np.argsort([im.shape[1] + rng.uniform(0, 8) for im in lines.images], kind="stable")
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [groups[i] for i in rng.permutation(len(groups))]


def collate(lines: Lines, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 1, 32, W) float images padded with background, targets, input and target lengths."""
    width = max(lines.images[i].shape[1] for i in idx)
    x = np.zeros((len(idx), 1, ctc.LINE_HEIGHT, width), dtype=np.float32)
    for row, i in enumerate(idx):
        image = lines.images[i]
        x[row, 0, :, : image.shape[1]] = image / 255.0
    texts = [lines.texts[i] for i in idx]
    targets = torch.tensor([int(c) for t in texts for c in t], dtype=torch.long)
    in_lengths = torch.tensor([ctc.frames_for(lines.images[i].shape[1]) for i in idx], dtype=torch.long)
    out_lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
    return torch.from_numpy(x), targets, in_lengths, out_lengths


# --------------------------------------------------------------------------- one epoch


def ctc_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    x, targets, in_lengths, out_lengths = batch
    log_probs = F.log_softmax(model(x), dim=2).permute(1, 0, 2)  # (T, B, CLASSES), as CTCLoss wants
    return F.ctc_loss(log_probs, targets, in_lengths, out_lengths, blank=ctc.BLANK, zero_infinity=True)


def train_one_epoch(
    model: nn.Module, lines: Lines, cfg: SequenceConfig, epoch: int, optimizer: Any, scheduler: Any
) -> dict[str, float]:
    model.train()
    rng = np.random.default_rng([cfg.seed, epoch])
    start, total, seen = time.perf_counter(), 0.0, 0
    for idx in batches(lines, cfg.batch_size, rng):
        loss = ctc_loss(model, collate(lines, idx))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        scheduler.step()
        total += loss.item() * len(idx)
        seen += len(idx)
    seconds = time.perf_counter() - start
    return {"train_loss": total / max(seen, 1), "seconds": seconds, "numbers_per_s": seen / max(seconds, 1e-9)}


@torch.no_grad()
def exact_rate(model: nn.Module, lines: Lines) -> dict[str, float]:
    """Share of numbers read exactly by greedy decoding, overall and per spacing."""
    model.eval()
    right: dict[str, list[bool]] = {}
    for idx in batches(lines, 64, np.random.default_rng(0)):
        x, *_ = collate(lines, idx)
        log_probs = F.log_softmax(model(x), dim=2).numpy()
        for row, i in enumerate(idx):
            frames = ctc.frames_for(lines.images[i].shape[1])
            text, _ = ctc.best_path(log_probs[row, :frames])
            right.setdefault(lines.spacings[i], []).append(text == lines.texts[i])
    every = [r for rs in right.values() for r in rs]
    return {"exact": float(np.mean(every)), **{k: float(np.mean(v)) for k, v in sorted(right.items())}}


# --------------------------------------------------------------------------- the run


def train_numbers(
    cfg: SequenceConfig, *, data_dir: str | None = None, out: Path | None = None, resume: Path | None = None
) -> Path:
    """Compose the numbers, train (every epoch committed to last.pt), export ONNX + card. Returns the run folder."""
    state = load_state(resume) if resume is not None else None
    cfg = state["config"] if state is not None else cfg
    torch.set_num_threads(cfg.threads or torch.get_num_threads())
    run_dir = out or (resume.parent if resume is not None else next_run_dir(Path("runs/numbers")))
    with claim_run_dir(run_dir):
        started = time.perf_counter()
        train, sha = compose(cfg.numbers, "train", cfg.seed, cfg.mnist_share, data_dir)
        val, _ = compose(cfg.val_numbers, "val", cfg.seed, 0.0, data_dir)
        compose_seconds = time.perf_counter() - started
        torch.manual_seed(cfg.seed)
        model = NumberNet(cfg.channels, cfg.hidden)
        steps = cfg.epochs * -(-len(train) // cfg.batch_size)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
        history: list[dict[str, Any]] = []
        best: tuple[dict[str, torch.Tensor], float] = ({}, -1.0)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            history, best = state["history"], (state["best_model"], state["best_exact"])
        _print_start(cfg, run_dir, model, len(train), len(val), len(history), compose_seconds)
        try:
            for epoch in range(len(history), cfg.epochs):
                row: dict[str, Any] = {"epoch": epoch + 1}
                row |= train_one_epoch(model, train, cfg, epoch, optimizer, scheduler)
                row["val"] = exact_rate(model, val)
                history.append(row)
                if row["val"]["exact"] > best[1]:
                    best = ({k: v.detach().clone() for k, v in model.state_dict().items()}, row["val"]["exact"])
                save_state(run_dir, cfg, model, optimizer, scheduler, history, best)
                print(
                    f"epoch {epoch + 1}/{cfg.epochs}  loss {row['train_loss']:.4f}  val exact {row['val']['exact']:.1%}"
                    f"  ({row['seconds']:.0f} s, {row['numbers_per_s']:.0f} numbers/s)",
                    flush=True,
                )
        except KeyboardInterrupt:
            print(
                f"\nInterrupted. {len(history)} of {cfg.epochs} epochs are saved in {run_dir / 'last.pt'}.\n"
                f"Resume with:  digits train-numbers --resume {run_dir / 'last.pt'}",
                file=sys.stderr,
            )
            raise SystemExit(130) from None
        model.load_state_dict(best[0])
        finish(run_dir, model, cfg, history, sha, data_dir, compose_seconds)
    return run_dir


def save_state(
    run_dir: Path,
    cfg: SequenceConfig,
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    history: list[dict[str, Any]],
    best: tuple[dict[str, torch.Tensor], float],
) -> None:
    """One atomic file per epoch: weights, optimizer, schedule, history, best weights (plain tensors and JSON)."""
    payload = {
        "format": STATE_FORMAT,
        "config": json.dumps(cfg.to_dict()),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "history": json.dumps(history),
        "best_model": best[0],
        "best_exact": best[1],
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write(run_dir / "last.pt", buffer.getvalue())


def load_state(path: Path) -> dict[str, Any]:
    """A run's last.pt, checked; TrainingError with the fix when it is not one."""
    if not path.is_file():
        raise TrainingError(f"checkpoint {path} not found; resume from a run's last.pt, e.g. runs/numbers/exp/last.pt")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a zip, ...
        raise TrainingError(f"{path} is not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or raw.get("format") != STATE_FORMAT:
        raise TrainingError(f"{path} is not a digits train-numbers checkpoint (format {STATE_FORMAT!r})")
    history = json.loads(raw["history"])
    cfg = SequenceConfig.from_dict(json.loads(raw["config"]))
    if len(history) >= cfg.epochs:
        raise TrainingError(f"{path} is a finished run ({len(history)} of {cfg.epochs} epochs); nothing to resume")
    return raw | {"config": cfg, "history": history}


# --------------------------------------------------------------------------- export


def export_onnx(model: nn.Module, path: Path, sample: torch.Tensor) -> float:
    """Write the ONNX graph (logits, dynamic batch and width) and return its largest difference from PyTorch."""
    import warnings

    import onnxruntime as ort

    model = model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's notices (LSTM batch size, deprecation)
        torch.onnx.export(
            model,
            (torch.zeros(1, 1, ctc.LINE_HEIGHT, 64),),
            str(path),
            input_names=["line"],
            output_names=["logits"],
            dynamic_axes={"line": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "frames"}},
            opset_version=17,
            dynamo=False,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(sample).numpy()
    got = session.run(None, {"line": sample.numpy()})[0]
    return float(np.abs(got - expected).max())


def finish(
    run_dir: Path,
    model: nn.Module,
    cfg: SequenceConfig,
    history: list[dict[str, Any]],
    unipen_sha: str,
    data_dir: str | None,
    compose_seconds: float,
) -> Path:
    """Export the best epoch to model.onnx with its card; say where to copy it to ship it."""
    test, _ = compose(min(600, cfg.val_numbers), "test", cfg.seed, 0.0, data_dir)
    test_exact = exact_rate(model, test)
    onnx_path = run_dir / "model.onnx"
    sample, *_ = collate(test, np.arange(min(8, len(test))))
    parity = export_onnx(model, onnx_path, sample)
    if parity > 1e-3:
        raise TrainingError(f"ONNX export differs from PyTorch by {parity:.2e}; the export is broken")
    card = model_card(cfg, model, history, test_exact, len(test), unipen_sha, data_dir, compose_seconds)
    card["export"] = {"opset": 17, "parity_max_abs_diff": parity}
    card["file"] = {"sha256": sha256_file(onnx_path), "bytes": onnx_path.stat().st_size}
    write_json(onnx_path.with_suffix(".json"), card)
    shipped = ctc.shipped_model_path()
    print(
        f"\ntest (UNIPEN test writers, {len(test)} numbers): exact {test_exact['exact']:.1%}  "
        + "  ".join(f"{k} {v:.1%}" for k, v in test_exact.items() if k != "exact")
        + f"\nResults saved to {run_dir}/\n"
        f"  model  {onnx_path} ({onnx_path.stat().st_size / 1024:.0f} KB) + model.json\n"
        f"Next:\n"
        f"  python benchmarks/bench_numbers.py --seq-model {onnx_path}\n"
        f"  to ship: cp {onnx_path} {shipped} && cp {onnx_path.with_suffix('.json')} {shipped.with_suffix('.json')}"
    )
    return onnx_path


def model_card(
    cfg: SequenceConfig,
    model: nn.Module,
    history: list[dict[str, Any]],
    test_exact: dict[str, float],
    test_numbers: int,
    unipen_sha: str,
    data_dir: str | None,
    compose_seconds: float,
) -> dict[str, Any]:
    return {
        "name": ctc.MODEL_NAME,
        "format": "onnx",
        "architecture": "CRNN: 3x(conv3x3-BN-ReLU-pool) over a 32 px line, BiLSTM over its columns, linear; CTC",
        "parameters": parameter_count(model),
        "input": {
            "name": "line",
            "shape": ["batch", 1, ctc.LINE_HEIGHT, "width"],
            "dtype": "float32",
            "range": [0.0, 1.0],
            "convention": "white ink on black, ctc.line_image of preprocess.load_ink",
        },
        "output": {
            "name": "logits",
            "shape": ["batch", "width/4", ctc.CLASSES],
            "classes": [*range(10), "blank"],
            "blank": ctc.BLANK,
        },
        "data": [
            {
                "name": "MNIST",
                "license": "CC BY-SA 3.0 (as distributed by Yann LeCun and Corinna Cortes)",
                "use": f"training digits composed into {cfg.mnist_share:.0%} of the training numbers",
            },
            {
                "name": "UNIPEN train_r01_v07, category 1a (isolated digits)",
                "license": unipen.LICENSE,
                "citation": unipen.CITATION,
                "sha256": unipen_sha,
                "use": "training writers' strokes composed into numbers (one writer per number, variation.vary); "
                "validation writers for model selection; test writers for the reported figures",
            },
        ],
        "training": {
            "command": "digits " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "config": cfg.to_dict(),
            "epochs_trained": len(history),
            "compose_seconds": round(compose_seconds, 1),
            "train_seconds": round(sum(h["seconds"] for h in history), 1),
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "mnist_dir": data_dir or "default",
        },
        "metrics": {
            "val_exact": max(h["val"]["exact"] for h in history),
            "test": test_exact,
            "test_numbers": test_numbers,
        },
    }


def _print_start(
    cfg: SequenceConfig, run_dir: Path, model: nn.Module, n_train: int, n_val: int, done: int, seconds: float
) -> None:
    what = f"resuming at epoch {done + 1}" if done else "training"
    print(
        f"digits train-numbers: {what} NumberNet ({parameter_count(model):,} parameters) for {cfg.epochs} epochs "
        f"on {n_train:,} composed numbers ({seconds:.0f} s to compose), validating on {n_val:,} "
        f"from UNIPEN validation writers\n"
        f"  {torch.get_num_threads()} threads, batch {cfg.batch_size}, lr {cfg.lr}, seed {cfg.seed}\n"
        f"  results go to {run_dir}/ (Ctrl+C stops and keeps a resumable checkpoint)",
        flush=True,
    )
