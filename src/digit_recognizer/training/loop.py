"""`digits train`: train the CNN on MNIST held in memory, checkpoint, export, report.

Reads top to bottom: config, data, one epoch, evaluation, the run, the checkpoint
helpers. Every run folder keeps the config that made it next to its numbers.
Randomness is derived from (seed, epoch), so a run resumed from a checkpoint
continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .. import data as mnist
from .. import unipen
from . import distributed, handwriting
from .augment import augment
from .checkpoint import (
    LAST,
    EpochState,
    atomic_write,
    claim_run_dir,
    commit_epoch,
    load_state,
    next_run_dir,
    write_derived_files,
)
from .checkpoint import write_json as write_json
from .config import TrainConfig, TrainingError
from .model import DigitNet, parameter_count
from .precision import with_precision


@dataclass
class Split:
    x: torch.Tensor  # (N, 1, 28, 28) uint8, kept in memory
    y: torch.Tensor  # (N,) int64; 10 = "not a digit"
    sources: dict[str, int] = field(default_factory=dict)  # images from each source, for the start-up block

    def __len__(self) -> int:
        return len(self.y)

    def describe(self) -> str:
        parts = ", ".join(f"{name} {count:,}" for name, count in self.sources.items())
        return f"{len(self):,} images ({parts})" if len(self.sources) > 1 else f"{len(self):,} MNIST images"


EpochCallback = Callable[[int, nn.Module, dict[str, Any]], None]


# --------------------------------------------------------------------------- data


def load_data(cfg: TrainConfig, data_dir: str | None) -> tuple[Split, Split | None, Split, dict[str, str]]:
    """Train / validation / test splits, each held in memory.

    Training mixes MNIST with UNIPEN's training writers (drawn in the apps' input
    styles) and the "not a digit" class; validation is a fixed, seeded slice of
    MNIST plus UNIPEN's validation writers (writer-disjoint, never a sample split)
    and junk drawn with another seed. The test split is MNIST's test set.
    """
    train = mnist.load_split("train", data_dir)
    test = mnist.load_split("test", data_dir)
    order = np.random.default_rng(12345).permutation(len(train))  # fixed: the same val split for every seed
    val_idx, train_idx = order[: cfg.val_size], order[cfg.val_size :]
    if cfg.limit:
        train_idx = train_idx[: cfg.limit]
    parts = {"MNIST": (train.images[train_idx], train.labels[train_idx])}
    val_parts = {"MNIST": (train.images[val_idx], train.labels[val_idx])} if cfg.val_size else {}
    checksums = {**train.sha256, **test.sha256}
    limit = cfg.limit
    if cfg.unipen:
        x, y, checksums[unipen.FILE_NAME] = handwriting.unipen_images(
            "train", cfg.unipen_variants, 0, limit=limit, vary=cfg.unipen_vary, styles=cfg.generated_styles
        )
        parts["UNIPEN"] = (x, y)
        val_parts["UNIPEN"] = handwriting.unipen_images("val", 1, 0, limit=limit)[:2]
    if cfg.junk:
        count = min(cfg.junk, limit // 4) if limit else cfg.junk
        parts["not a digit"] = _junk(handwriting.junk_images(count, 0))
        val_parts["not a digit"] = _junk(handwriting.junk_images(max(100, count // 10), 1))
    return (
        _as_split(parts),
        _as_split(val_parts) if val_parts else None,
        _as_split({"MNIST": (test.images, test.labels)}),
        checksums,
    )


def _junk(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return images, np.full(len(images), handwriting.NOT_A_DIGIT, dtype=np.int64)


def _as_split(parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> Split:
    images = np.concatenate([np.asarray(x) for x, _ in parts.values()])
    labels = np.concatenate([np.asarray(y).astype(np.int64) for _, y in parts.values()])
    return Split(
        torch.from_numpy(images).unsqueeze(1),
        torch.from_numpy(labels),
        {name: len(y) for name, (_, y) in parts.items()},
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
    on_terminal = sys.stderr.isatty()  # a log file gets one line per epoch, not a bar redrawn 20 times a second
    bar = tqdm(
        range(steps),
        desc=f"epoch {epoch + 1}/{cfg.epochs}",
        unit="batch",
        leave=True,
        dynamic_ncols=True,
        disable=not on_terminal,
    )
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
    if not on_terminal:
        print(
            f"epoch {epoch + 1}/{cfg.epochs}  loss {loss_sum / seen:.4f}  acc {correct / seen:.4f}  "
            f"{seen / elapsed:.0f} images/s  {elapsed:.0f} s",
            flush=True,
        )
    return {
        "train_loss": loss_sum / seen,
        "train_acc": correct / seen,
        "seconds": elapsed,
        "images_per_s": seen / elapsed,
    }


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, device: torch.device, batch: int = 1000) -> torch.Tensor:
    """Logits (N, classes) for uint8 images (N, 1, 28, 28)."""
    model.eval()
    return torch.cat([model(x[i : i + batch].to(device).float().div_(255)).cpu() for i in range(0, len(x), batch)])


def predict_probabilities(model: nn.Module, x: torch.Tensor, device: torch.device, batch: int = 1000) -> torch.Tensor:
    """Softmax probabilities (N, classes) for uint8 images (N, 1, 28, 28)."""
    return F.softmax(predict_logits(model, x, device, batch), dim=1)


@torch.no_grad()
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
    """Train, commit every epoch to last.pt, then export ONNX + model card + plots. Returns the run folder.

    Under torchrun every process runs this on its shard of the data; rank 0 alone
    prints, writes the run folder and exports (see distributed.py).
    """
    state = load_state(resume) if resume is not None else None  # checked before any data is read
    cfg = state.config if state is not None else cfg
    with ExitStack() as held, distributed.world(cfg.device) as world:
        run_dir = world.on_main(lambda: held.enter_context(claim_run_dir(_run_dir(out, resume))))
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        device = world.place(resolve_device(cfg.device))
        all_train, val_split, test_split, checksums = load_data(cfg, data_dir)
        train_split = _on_device(world.shard(_check_enough(all_train, cfg, world)), device)

        torch.manual_seed(cfg.seed)
        net = DigitNet(cfg.model).to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if state is not None:
            net.load_state_dict(state.model)
        model = world.wrap(with_precision(net, cfg.precision, device), device)
        steps_per_epoch = len(train_split) // cfg.batch_size
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.2
        )
        if state is not None:
            _continue(state, optimizer, scheduler, world, resume)
            world.on_main(lambda: write_derived_files(run_dir, state))  # best.pt, metrics.json agree with last.pt
        history = list(state.history) if state is not None else []
        best = (state.best_model, state.best_epoch, state.best_val) if state is not None else ({}, 0, -1.0)
        if world.is_main:
            write_json(run_dir / "config.json", cfg.to_dict())
            _print_start(cfg, run_dir, device, net, all_train, val_split, len(history), world)

        train_seconds = sum(h["seconds"] for h in history)
        try:
            for epoch in range(len(history), cfg.epochs):
                with world.quiet_unless_main():
                    row: dict[str, Any] = {"epoch": epoch + 1}
                    row |= train_one_epoch(model, train_split, cfg, epoch, optimizer, scheduler, device)
                row = world.combine(row, device)
                train_seconds += row["seconds"]
                row["elapsed_train_seconds"] = train_seconds
                if not world.is_main:
                    world.on_main(lambda: None)  # wait for rank 0's verdict on the epoch's commit
                    continue
                if val_split is not None:
                    row["val_acc"] = accuracy(net, val_split, device)
                    print(f"  validation accuracy {row['val_acc']:.4%}")
                history.append(row)
                # --val-size 0 keeps the last epoch (the end of the one-cycle schedule); otherwise the best one
                if val_split is None or cfg.val_size == 0 or row["val_acc"] > best[2]:
                    best = (_copy_weights(net), epoch + 1, row.get("val_acc", -1.0))
                epoch_state = EpochState(
                    cfg, net.state_dict(), optimizer.state_dict(), scheduler.state_dict(), history, *best, world.size
                )
                world.on_main(partial(commit_epoch, run_dir, epoch_state))
                if on_epoch_end is not None:
                    on_epoch_end(epoch, net, row)
        except KeyboardInterrupt:
            if world.is_main:
                _print_interrupted(run_dir, len(history), cfg.epochs, world)
            raise SystemExit(130) from None

        if export and world.is_main:
            (run_dir / "model.json").unlink(missing_ok=True)  # a card is only ever beside the model it describes
            with _disk_full_as_error(run_dir):
                finish(run_dir, net, cfg, device, test_split, checksums, history, command, len(all_train), val_split)
    return run_dir


def _generated_takes(cfg: TrainConfig) -> dict[str, Any]:
    """What the model card says was generated from the UNIPEN training writers' strokes, and how."""
    from .. import variation

    styles = [name for by_name in variation.GENERATED_STYLES.values() for name in by_name]
    return {
        "name": "takes and styles generated from UNIPEN training writers' strokes (digit_recognizer.variation)",
        "license": "generated by this project from CC BY 4.0 data",
        "use": f"{cfg.unipen_variants - 1} of every {cfg.unipen_variants} drawings of a training digit are "
        "another take of its strokes (per-stroke jitter and scale, slant, rotation, width, wobble, resampling, "
        f"pen lifts); {cfg.generated_styles:.0%} of those in a generated style of its class",
        "generated_styles": styles,
    }


def _print_interrupted(run_dir: Path, done: int, epochs: int, world: distributed.World) -> None:
    if not done:
        print("\nInterrupted before the first epoch ended; nothing is saved yet.", file=sys.stderr)
        return
    launcher = "torchrun (the same options) -m digit_recognizer" if world.distributed else "digits"
    print(
        f"\nInterrupted. {done} of {epochs} epochs are saved in {run_dir / LAST}.\n"
        f"Resume with:  {launcher} train --resume {run_dir / LAST}",
        file=sys.stderr,
    )


def _run_dir(out: Path | None, resume: Path | None) -> Path:
    if out is not None:
        return out
    return resume.parent if resume is not None else next_run_dir(Path("runs/train"))


def _check_enough(split: Split, cfg: TrainConfig, world: distributed.World) -> Split:
    """Every process needs at least one whole batch per epoch, or there is nothing to train."""
    if len(split) // world.size < cfg.batch_size:
        per = f" per process ({world.size} processes)" if world.distributed else ""
        raise TrainingError(
            f"only {len(split) // world.size:,} training images{per}, less than one batch of {cfg.batch_size}; "
            f"lower --batch-size, raise --limit or lower --val-size"
        )
    return split


def _on_device(split: Split, device: torch.device) -> Split:
    """On a GPU the whole training split lives in GPU memory (MNIST is 47 MB): no copy per batch."""
    if device.type == "cpu":
        return split
    return dataclasses.replace(split, x=split.x.to(device), y=split.y.to(device))


def _continue(
    state: EpochState,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    world: distributed.World,
    path: Path | None,
) -> None:
    """Restore the optimizer and schedule, refusing a checkpoint whose schedule does not fit this data."""
    if state.world_size != world.size:
        raise TrainingError(
            f"{path} was trained by {state.world_size} process(es), this run has {world.size}: each process's "
            f"shard and the schedule depend on it; resume with torchrun --nproc-per-node {state.world_size} "
            "(or without torchrun for 1)"
        )
    saved, now = state.scheduler.get("total_steps"), scheduler.total_steps  # type: ignore[attr-defined]
    if saved != now:
        raise TrainingError(
            f"{path} has a schedule of {saved} steps but this data gives {now}: "
            "the training data differs from the run's (give the same --data-dir)"
        )
    try:
        optimizer.load_state_dict(state.optimizer)
        scheduler.load_state_dict(state.scheduler)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise TrainingError(f"{path}: the optimizer state does not fit the model ({exc})") from None


def _copy_weights(net: nn.Module) -> dict[str, torch.Tensor]:
    """A snapshot on the CPU: state_dict() returns live tensors that the next step would change."""
    return {name: t.detach().to("cpu", copy=True) for name, t in net.state_dict().items()}


@contextmanager
def _disk_full_as_error(run_dir: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise TrainingError(
            f"no space left on device in {run_dir} while exporting; every epoch is saved in {run_dir / LAST}: "
            f"free some space, then run digits train --resume {run_dir / LAST} to export again"
        ) from None


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
    val_split: Split | None = None,
) -> None:
    """Load the best weights, measure them on the test set, export ONNX with its card, draw plots."""
    from .. import evaluation
    from .export import export_onnx

    best = torch.load(run_dir / "best.pt", map_location=device, weights_only=True)
    model.load_state_dict(best["model"])
    test_acc = accuracy(model, test_split, device)
    print(f"test accuracy {test_acc:.4%} on {len(test_split)} MNIST test images")
    temperature, calibration = calibrate(model, val_split, device, run_dir)
    onnx_path = run_dir / "model.onnx"
    card = export_onnx(model.cpu(), onnx_path, test_split.x[:512], temperature=temperature)
    save_weights(onnx_path.with_suffix(".pt"), model, cfg, temperature)
    card["calibration"] = calibration
    card["data"] = training_data(cfg)
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


def calibrate(
    model: nn.Module, val_split: Split | None, device: torch.device, run_dir: Path
) -> tuple[float, dict[str, Any]]:
    """Fit the temperature on the validation split (held-out writers); 1.0 when there is none."""
    from .calibrate import calibration_summary, fit_temperature, plot_reliability

    if val_split is None or len(val_split) == 0:
        return 1.0, {"temperature": 1.0, "note": "no validation split to fit a temperature on"}
    logits = predict_logits(model, val_split.x, device).double().numpy()
    labels = val_split.y.numpy()
    temperature = fit_temperature(logits, labels)
    summary = calibration_summary(logits, labels, temperature) | {"validation": val_split.sources}
    plot_reliability(logits, labels, temperature, run_dir / "reliability.png")
    print(
        f"calibration: temperature {temperature:.3f} on {len(labels):,} validation images; "
        f"ECE {summary['ece_before']:.4f} -> {summary['ece_after']:.4f}"
    )
    return temperature, summary


def save_weights(path: Path, model: nn.Module, cfg: TrainConfig, temperature: float) -> None:
    """The PyTorch weights beside the ONNX file (plain tensors and JSON), for fine-tuning (`digits adapt`)."""
    payload = {"model": model.state_dict(), "config": json.dumps(cfg.to_dict()), "temperature": temperature}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write(path, buffer.getvalue())


def load_weights(path: Path) -> tuple[nn.Module, TrainConfig, float]:
    """A DigitNet from ``save_weights``' file (loaded with weights_only=True: nothing is unpickled)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    cfg = TrainConfig.from_dict(json.loads(state["config"]))
    model = DigitNet(cfg.model)
    model.load_state_dict(state["model"])
    return model, cfg, float(state["temperature"])


def training_data(cfg: TrainConfig) -> list[dict[str, str]]:
    """The datasets a model was trained on, with their licenses and citations, for the model card."""
    sets = [
        {
            "name": "MNIST",
            "license": "CC BY-SA 3.0 (as distributed by Yann LeCun and Corinna Cortes)",
            "citation": "Y. LeCun, C. Cortes and C. J. C. Burges, The MNIST database of handwritten digits",
            "use": "training images (all, or all but --val-size), test set for the reported accuracy",
        }
    ]
    if cfg.unipen:
        sets.append(
            {
                "name": "UNIPEN train_r01_v07, category 1a (isolated digits)",
                "license": unipen.LICENSE,
                "citation": unipen.CITATION,
                "use": f"training writers drawn {cfg.unipen_variants}x in input styles; validation writers for "
                "model selection and calibration; test writers for the handwriting benchmark only",
            }
        )
        if cfg.unipen_vary:
            sets.append(_generated_takes(cfg))
    if cfg.junk:
        sets.append(
            {
                "name": "generated marks (taps, dots, dashes, specks, scribbles, merged digit pairs)",
                "license": "generated by this project",
                "use": "the 'not a digit' class",
            }
        )
    return sets


def _print_start(
    cfg: TrainConfig,
    run_dir: Path,
    device: torch.device,
    model: nn.Module,
    train_split: Split,
    val_split: Split | None,
    start_epoch: int,
    world: distributed.World,
) -> None:
    what = f"resuming at epoch {start_epoch + 1}" if start_epoch else "training"
    val = f", validating on {val_split.describe()} held out" if val_split is not None else ", no validation split"
    print(
        f"digits train: {what} DigitNet ({parameter_count(model):,} parameters) for {cfg.epochs} epochs "
        f"on {train_split.describe()}{val}\n"
        f"  device {device} ({torch.get_num_threads()} threads), batch {cfg.batch_size}, "
        f"lr {cfg.lr}, seed {cfg.seed}, augmentation {'on' if cfg.augment else 'off'}\n"
        f"  {world.describe()}\n"
        f"  results go to {run_dir}/ (Ctrl+C stops and keeps a resumable checkpoint)"
    )
