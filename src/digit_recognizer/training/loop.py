"""`digits train`: train the CNN on MNIST held in memory, checkpoint, export, report.

Reads top to bottom: config, data, one epoch, evaluation, the run, the checkpoint
helpers. Every run folder keeps the config that made it next to its numbers.
Randomness is derived from (seed, epoch), so a run resumed from a checkpoint
continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .. import data as mnist
from .augment import augment
from .config import TrainConfig
from .model import DigitNet, parameter_count


@dataclass
class Split:
    x: torch.Tensor  # (N, 1, 28, 28) uint8, kept in memory
    y: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.y)


EpochCallback = Callable[[int, nn.Module, dict[str, Any]], None]


# --------------------------------------------------------------------------- data


def load_data(cfg: TrainConfig, data_dir: str | None) -> tuple[Split, Split | None, Split, dict[str, str]]:
    """Train / validation / test splits. Validation is a fixed, seeded slice of the training set."""
    train = mnist.load_split("train", data_dir)
    test = mnist.load_split("test", data_dir)
    order = np.random.default_rng(12345).permutation(len(train))  # fixed: the same val split for every seed
    val_idx, train_idx = order[: cfg.val_size], order[cfg.val_size :]
    if cfg.limit:
        train_idx = train_idx[: cfg.limit]
    as_split = lambda images, labels: Split(
        torch.from_numpy(np.array(images)).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))
    )
    val = as_split(train.images[val_idx], train.labels[val_idx]) if cfg.val_size else None
    return (
        as_split(train.images[train_idx], train.labels[train_idx]),
        val,
        as_split(test.images, test.labels),
        {**train.sha256, **test.sha256},
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda was asked for, but PyTorch sees no CUDA GPU. Use --device cpu.")
    return torch.device(name)


# --------------------------------------------------------------------------- one epoch


def train_one_epoch(
    model: nn.Module,
    split: Split,
    cfg: TrainConfig,
    epoch: int,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    device: torch.device,
) -> dict[str, float]:
    model.train()
    torch.manual_seed(cfg.seed * 1000 + epoch)  # dropout
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
    order = torch.randperm(len(split), generator=gen)
    steps = len(split) // cfg.batch_size  # drop the ragged last batch: BN dislikes tiny batches
    seen = correct = 0
    loss_sum = 0.0
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=True, dynamic_ncols=True)
    for step in bar:
        idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        x = split.x[idx].to(device, non_blocking=True).float().div_(255)
        y = split.y[idx].to(device, non_blocking=True)
        if cfg.augment:
            x = augment(x, cfg.augmentation, gen if device.type == "cpu" else None)
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        seen += len(y)
        correct += int((logits.argmax(1) == y).sum())
        loss_sum += loss.item() * len(y)
        if step % 20 == 0 or step == steps - 1:
            rate = seen / (time.perf_counter() - start)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}", img_s=f"{rate:.0f}")
    elapsed = time.perf_counter() - start
    return {
        "train_loss": loss_sum / seen,
        "train_acc": correct / seen,
        "seconds": elapsed,
        "images_per_s": seen / elapsed,
    }


@torch.no_grad()
def predict_probabilities(model: nn.Module, x: torch.Tensor, device: torch.device, batch: int = 1000) -> torch.Tensor:
    """Softmax probabilities (N, 10) for uint8 images (N, 1, 28, 28)."""
    model.eval()
    out = [
        F.softmax(model(x[i : i + batch].to(device).float().div_(255)), dim=1).cpu() for i in range(0, len(x), batch)
    ]
    return torch.cat(out)


def accuracy(model: nn.Module, split: Split, device: torch.device) -> float:
    return float((predict_probabilities(model, split.x, device).argmax(1) == split.y).float().mean())


# --------------------------------------------------------------------------- the run


def train(
    cfg: TrainConfig,
    *,
    data_dir: str | None = None,
    out: Path | None = None,
    resume: Path | None = None,
    export: bool = True,
    on_epoch_end: EpochCallback | None = None,
    command: str | None = None,
) -> Path:
    """Train, checkpoint every epoch, then export ONNX + model card + plots. Returns the run folder."""
    if resume is not None:
        cfg, state = load_checkpoint_for_resume(resume, None)
        run_dir = out or resume.parent
    else:
        state = None
        run_dir = out or next_run_dir(Path("runs/train"))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    train_split, val_split, test_split, checksums = load_data(cfg, data_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))

    torch.manual_seed(cfg.seed)
    model = DigitNet(cfg.model).to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    steps_per_epoch = len(train_split) // cfg.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=max(1, cfg.epochs * steps_per_epoch), pct_start=0.2
    )
    history: list[dict[str, Any]] = []
    start_epoch, best_val = 0, -1.0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = json.loads(state["history"])
        start_epoch, best_val = len(history), float(state["best_val"])

    _print_start(cfg, run_dir, device, model, train_split, val_split, start_epoch)
    train_seconds = sum(h["seconds"] for h in history)
    try:
        for epoch in range(start_epoch, cfg.epochs):
            row: dict[str, Any] = {"epoch": epoch + 1}
            row |= train_one_epoch(model, train_split, cfg, epoch, optimizer, scheduler, device)
            train_seconds += row["seconds"]
            row["elapsed_train_seconds"] = train_seconds
            if val_split is not None:
                row["val_acc"] = accuracy(model, val_split, device)
                print(f"  validation accuracy {row['val_acc']:.4%}")
            history.append(row)
            improved = val_split is None or row["val_acc"] > best_val
            best_val = row.get("val_acc", best_val) if improved else best_val
            save_checkpoint(run_dir / "last.pt", model, optimizer, scheduler, cfg, history, best_val)
            if improved:
                save_checkpoint(run_dir / "best.pt", model, optimizer, scheduler, cfg, history, best_val)
            write_json(run_dir / "metrics.json", {"config": cfg.to_dict(), "history": history})
            if on_epoch_end is not None:
                on_epoch_end(epoch, model, row)
    except KeyboardInterrupt:
        done = len(history)
        print(
            f"\nInterrupted. {done} of {cfg.epochs} epochs are saved in {run_dir / 'last.pt'}.\n"
            f"Resume with:  digits train --resume {run_dir / 'last.pt'}",
            file=sys.stderr,
        )
        raise SystemExit(130) from None

    if export:
        finish(run_dir, model, cfg, device, test_split, checksums, history, command, len(train_split))
    return run_dir


def finish(
    run_dir: Path,
    model: nn.Module,
    cfg: TrainConfig,
    device: torch.device,
    test_split: Split,
    checksums: dict[str, str],
    history: list[dict[str, Any]],
    command: str | None,
    n_train: int,
) -> None:
    """Load the best weights, measure them on the test set, export ONNX with its card, draw plots."""
    from .. import evaluation
    from .export import export_onnx

    best = torch.load(run_dir / "best.pt", map_location=device, weights_only=True)
    model.load_state_dict(best["model"])
    test_acc = accuracy(model, test_split, device)
    print(f"test accuracy {test_acc:.4%} on {len(test_split)} MNIST test images")
    onnx_path = run_dir / "model.onnx"
    card = export_onnx(model.cpu(), onnx_path, test_split.x[:512])
    card["training"] = {
        "command": command or "digits " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "config": cfg.to_dict(),
        "epochs_trained": len(history),
        "best_epoch": int(best["epoch"]),
        "train_images": n_train,
        "train_seconds": round(sum(h["seconds"] for h in history), 1),
        "images_per_s": round(float(np.mean([h["images_per_s"] for h in history])), 1),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "data_sha256": checksums,
    }
    card["metrics"] = {"test_accuracy": test_acc, "test_images": len(test_split)}
    if "val_acc" in history[-1]:
        card["metrics"]["val_accuracy"] = max(h["val_acc"] for h in history)
    write_json(onnx_path.with_suffix(".json"), card)
    report = evaluation.evaluate_onnx(onnx_path, test_split.x.squeeze(1).numpy(), test_split.y.numpy())
    evaluation.write_report(report, run_dir, history=history)
    print(
        f"\nResults saved to {run_dir}/\n"
        f"  model       {onnx_path} ({onnx_path.stat().st_size / 1024:.0f} KB) + {onnx_path.stem}.json\n"
        f"  checkpoints {run_dir / 'best.pt'}, {run_dir / 'last.pt'}\n"
        f"  plots       {run_dir / 'curves.png'}, {run_dir / 'confusion.png'}, {run_dir / 'mistakes.png'}\n"
        f"Next:\n"
        f"  digits evaluate --model {onnx_path}\n"
        f"  digits draw --model {onnx_path}"
    )


def _print_start(
    cfg: TrainConfig,
    run_dir: Path,
    device: torch.device,
    model: nn.Module,
    train_split: Split,
    val_split: Split | None,
    start_epoch: int,
) -> None:
    what = f"resuming at epoch {start_epoch + 1}" if start_epoch else "training"
    val = f", validating on {len(val_split)} held-out" if val_split is not None else ", no validation split"
    print(
        f"digits train: {what} DigitNet ({parameter_count(model):,} parameters) for {cfg.epochs} epochs "
        f"on {len(train_split):,} MNIST images{val}\n"
        f"  device {device} ({torch.get_num_threads()} threads), batch {cfg.batch_size}, "
        f"lr {cfg.lr}, seed {cfg.seed}, augmentation {'on' if cfg.augment else 'off'}\n"
        f"  results go to {run_dir}/ (Ctrl+C stops and keeps a resumable checkpoint)"
    )


# --------------------------------------------------------------------------- checkpoints


def next_run_dir(root: Path) -> Path:
    """runs/train/exp, exp2, exp3, ... : the first name not taken."""
    for n in range(1, 10_000):
        candidate = root / ("exp" if n == 1 else f"exp{n}")
        if not candidate.exists():
            return candidate
    raise RuntimeError(f"{root} has 10,000 runs; clean it up.")


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    cfg: TrainConfig,
    history: list[dict[str, Any]],
    best_val: float,
) -> None:
    """Weights and plain data only (loadable with weights_only=True), written atomically."""
    payload = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "config": json.dumps(cfg.to_dict()),
        "history": json.dumps(history),
        "epoch": len(history),
        "best_val": best_val,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint_for_resume(path: Path, epochs: int | None) -> tuple[TrainConfig, dict[str, Any]]:
    if not path.is_file():
        raise SystemExit(
            f"error: checkpoint {path} not found. Resume from a run's last.pt, e.g. runs/train/exp/last.pt"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        raw = json.loads(state["config"])
    except Exception as exc:
        raise SystemExit(f"error: {path} is not a digits training checkpoint ({exc}).") from None
    cfg = TrainConfig.from_dict(raw)
    if epochs is not None:
        cfg.epochs = epochs
    return cfg, state


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)
