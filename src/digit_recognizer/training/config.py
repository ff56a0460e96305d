"""Every hyperparameter in one place, each with its unit; torch-free so `digits --help` stays fast.

Configs travel inside every checkpoint and model card, so weights can always be
rebuilt and a figure traced back to the settings that produced it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    """Channels of each convolution stage, and dropout before the classifier."""

    c1: int = 32
    c2: int = 64
    c3: int = 128
    dropout: float = 0.25
    classes: int = 11  # digits 0-9, and 10 = "not a digit" (stray marks, merged pieces)


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


@dataclass
class TrainConfig:
    epochs: int = 15
    batch_size: int = 128  # images per optimizer step
    lr: float = 4e-3  # peak learning rate of the one-cycle schedule
    weight_decay: float = 5e-4  # AdamW decoupled weight decay
    label_smoothing: float = 0.05
    seed: int = 0
    val_size: int = 5000  # training images held out to choose hyperparameters; 0 = train on all
    limit: int | None = None  # use only this many training images (quick runs)
    unipen: bool = True  # mix in UNIPEN's real pen-drawn digits (training writers only)
    unipen_variants: int = 4  # times each UNIPEN digit is drawn, in varied input styles
    junk: int = 9000  # images of the "not a digit" class; 0 trains a 10-class model
    augment: bool = True
    device: str = "auto"  # auto | cpu | cuda
    threads: int | None = None  # torch intra-op threads; None = torch's default
    model: ModelConfig = field(default_factory=ModelConfig)
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        plain = {k: v for k, v in raw.items() if k not in ("model", "augmentation")}
        return cls(**plain, model=ModelConfig(**raw["model"]), augmentation=AugmentConfig(**raw["augmentation"]))


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
