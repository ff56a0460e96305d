"""Every hyperparameter in one place, each with its unit; torch-free so `digits --help` stays fast.

Configs travel inside every checkpoint and model card, so weights can always be
rebuilt and a figure traced back to the settings that produced it. They are
checked here, in one place, when they are made: from the command line, from code
or from a checkpoint, a nonsense value is refused with one line naming it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

MNIST_TRAIN_IMAGES = 60_000
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")


class TrainingError(Exception):
    """A problem the user can fix (a bad value, a damaged checkpoint, a full disk): printed as one line."""


def _require(ok: bool, name: str, rule: str, value: Any) -> None:
    if not ok:
        raise TrainingError(f"{name} must be {rule}, got {value!r}")


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@dataclass(frozen=True)
class ModelConfig:
    """Channels of each convolution stage, and dropout before the classifier."""

    c1: int = 40
    c2: int = 80
    c3: int = 160
    dropout: float = 0.25
    classes: int = 11  # digits 0-9, and 10 = "not a digit" (stray marks, merged pieces)

    def __post_init__(self) -> None:
        for name in ("c1", "c2", "c3"):
            value = getattr(self, name)
            _require(isinstance(value, int) and value >= 1, f"model.{name}", "a whole number >= 1", value)
        _require(_finite(self.dropout) and 0 <= self.dropout < 1, "model.dropout", "in [0, 1)", self.dropout)
        _require(
            self.classes in (10, 11), "model.classes", "10 (digits) or 11 (digits and 'not a digit')", self.classes
        )


@dataclass(frozen=True)
class AugmentConfig:
    """Distortions aimed at people's drawings rather than census forms."""

    rotate_deg: float = 12.0  # max |rotation|, degrees
    scale: float = 0.12  # zoom factor drawn from [1 - scale, 1 + scale]
    shear: float = 0.25  # max |shear|, as a fraction of width
    translate_px: float = 2.0  # max |shift|, pixels
    elastic_px: float = 1.5  # max elastic displacement, pixels
    p_stroke: float = 0.5  # share of images whose pen is made thinner or bolder
    p_binarize: float = 0.1  # share of images thresholded like a scanned form

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            _require(_finite(value) and value >= 0, f"augmentation.{f.name}", "a finite number >= 0", value)
        _require(self.scale < 1, "augmentation.scale", "below 1", self.scale)
        for name in ("p_stroke", "p_binarize"):
            _require(getattr(self, name) <= 1, f"augmentation.{name}", "a share in [0, 1]", getattr(self, name))


@dataclass
class TrainConfig:
    epochs: int = 12
    batch_size: int = 128  # images per optimizer step (per process when training on several)
    lr: float = 4e-3  # peak learning rate of the one-cycle schedule
    weight_decay: float = 5e-4  # AdamW decoupled weight decay
    label_smoothing: float = 0.05
    seed: int = 0
    val_size: int = 5000  # training images held out to choose hyperparameters; 0 = train on all
    limit: int | None = None  # use only this many training images (quick runs)
    unipen: bool = True  # mix in UNIPEN's real pen-drawn digits (training writers only)
    unipen_variants: int = 8  # times each UNIPEN digit is drawn, in varied input styles
    unipen_vary: bool = True  # draw every variant but the first as another take of the strokes (variation.vary)
    generated_styles: float = 0.25  # share of those takes in a generated style (a flag on a 1, a crossed 7...)
    junk: int = 9000  # images of the "not a digit" class; 0 trains a 10-class model
    augment: bool = True
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto (bf16 autocast on a GPU that has it, else fp32) | fp32 | bf16
    threads: int | None = None  # torch intra-op threads; None = torch's default
    model: ModelConfig = field(default_factory=ModelConfig)
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        """Refuse values that would crash later (or, worse, train quietly on nonsense)."""
        whole = lambda v: isinstance(v, int) and not isinstance(v, bool)
        _require(whole(self.epochs) and self.epochs >= 1, "epochs", "a whole number >= 1", self.epochs)
        _require(whole(self.batch_size) and self.batch_size >= 1, "batch size", "a whole number >= 1", self.batch_size)
        _require(_finite(self.lr) and self.lr > 0, "lr", "a finite number > 0", self.lr)
        _require(_finite(self.weight_decay) and self.weight_decay >= 0, "weight decay", ">= 0", self.weight_decay)
        _require(
            _finite(self.label_smoothing) and 0 <= self.label_smoothing < 1,
            "label smoothing",
            "in [0, 1)",
            self.label_smoothing,
        )
        _require(whole(self.seed) and self.seed >= 0, "seed", "a whole number >= 0", self.seed)
        _require(
            whole(self.val_size) and 0 <= self.val_size < MNIST_TRAIN_IMAGES,
            "val size",
            f"between 0 and {MNIST_TRAIN_IMAGES - 1:,} (MNIST has {MNIST_TRAIN_IMAGES:,} training images)",
            self.val_size,
        )
        if self.limit is not None:
            _require(
                whole(self.limit) and self.limit >= self.batch_size,
                "limit",
                f"at least one batch ({self.batch_size} images; lower --batch-size for smaller runs)",
                self.limit,
            )
        _require(
            whole(self.unipen_variants) and self.unipen_variants >= 1, "unipen variants", ">= 1", self.unipen_variants
        )
        _require(
            _finite(self.generated_styles) and 0 <= self.generated_styles <= 1,
            "generated styles",
            "a share in [0, 1]",
            self.generated_styles,
        )
        _require(whole(self.junk) and self.junk >= 0, "junk", "a whole number >= 0", self.junk)
        if isinstance(self.model, ModelConfig) and (self.junk > 0) != (self.model.classes == 11):
            self.model = replace(self.model, classes=11 if self.junk else 10)  # the junk class exists iff trained
        _require(self.device in DEVICES, "device", " or ".join(DEVICES), self.device)
        _require(self.precision in PRECISIONS, "precision", " or ".join(PRECISIONS), self.precision)
        if self.threads is not None:
            _require(whole(self.threads) and self.threads >= 1, "threads", "a whole number >= 1", self.threads)
        _require(isinstance(self.model, ModelConfig), "model", "a ModelConfig", self.model)
        _require(isinstance(self.augmentation, AugmentConfig), "augmentation", "an AugmentConfig", self.augmentation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        """Rebuild a config saved by `to_dict`; keys this version does not know are refused, not dropped."""
        if not isinstance(raw, dict):
            raise TrainingError(f"the config must be a mapping, got {type(raw).__name__}")
        _refuse_unknown(cls, raw, "")
        _refuse_unknown(ModelConfig, raw.get("model", {}), "model.")
        _refuse_unknown(AugmentConfig, raw.get("augmentation", {}), "augmentation.")
        plain = {k: v for k, v in raw.items() if k not in ("model", "augmentation")}
        try:
            model = ModelConfig(**raw.get("model", {}))
            augmentation = AugmentConfig(**raw.get("augmentation", {}))
            return cls(**plain, model=model, augmentation=augmentation)
        except TypeError as exc:  # a nested value of the wrong kind, e.g. "model": 3
            raise TrainingError(f"the config does not fit this version: {exc}") from None


def _refuse_unknown(kind: type, raw: Any, prefix: str) -> None:
    if not isinstance(raw, dict):
        raise TrainingError(f"config {prefix.rstrip('.') or 'value'} must be a mapping, got {raw!r}")
    unknown = sorted(set(raw) - {f.name for f in fields(kind)})
    if unknown:
        raise TrainingError(
            f"unknown config key {prefix}{unknown[0]!r} (written by another version of digit-recognizer?)"
        )


#: Fewer corrections than this are refused: a fifth is kept aside to measure on, so 20
#: leaves 16 to learn from and 4 to check; below that the model would only memorise a
#: handful of pictures, and no figure could say whether it got better.
MIN_CORRECTIONS = 20
HOLDOUT_SHARE = 0.2  # of each digit's corrections, kept aside (seeded) to measure before/after


@dataclass(frozen=True)
class AdaptConfig:
    """How hard to fine-tune; the defaults are the ones `bench_adapt.py` measured."""

    epochs: int = 10  # passes over the person's (re-drawn) digits
    max_steps: int = 200  # at most this many batches: many corrections need fewer passes, and time stays bounded
    lr: float = 1e-3  # peak AdamW learning rate (one-cycle: warm-up, then cosine decay to 0)
    batch_size: int = 128
    personal_share: float = 0.25  # of every batch: the person's digits; the rest is replay
    redraws: int = 6  # canvas re-drawings of each correction saved with strokes
    replay_mnist: int = 15000  # MNIST training images replayed
    replay_unipen_limit: int | None = None  # UNIPEN training digits replayed (None: all writers, drawn once)
    replay_junk: int = 1000  # "not a digit" marks replayed (11-class models)
    validation_limit: int | None = None  # UNIPEN validation digits measured on (None: all validation writers)
    seed: int = 0
    threads: int | None = None
