"""Real writers and junk for training: UNIPEN digits rendered as app inputs, and marks that are no digit.

MNIST alone cannot teach styles it lacks (a 1 with a flag and a foot, a crossed 7,
a closed 4), so training mixes in UNIPEN pen trajectories, each drawn several times
in the input styles of ``synth`` (canvas, small, tight scan, stretched bitmap) and
sent through the apps' own ``find_ink`` + ``normalize``: the model sees at training
time exactly what the apps feed it. ``junk`` adds the "not a digit" class (label
10): taps, dots, dashes, specks, scribbles, and two digits merged into one piece.

Rendering costs about a millisecond per image, so each set is made once and cached
as a compressed .npz in the user cache, keyed by everything that changes its content.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import synth, unipen, variation
from ..ink import InkSample, Stroke
from ..preprocess import FIELD, NoDigit, find_ink, load_gray, normalize
from ..recognizer import NO_DIGIT

NOT_A_DIGIT = NO_DIGIT  # the label of the junk class: the "not a digit" column of Recognizer.scores
RENDER_VERSION = 3  # bump when rendering or preprocessing changes what a cached set holds
#: How often each input style is drawn: canvases dominate what people send.
STYLE_WEIGHTS: dict[str, float] = {"canvas": 0.45, "small": 0.1, "tight-scan": 0.25, "stretched": 0.2}
PAIR_SHARE = 0.3  # share of junk that is two digits merged into one piece


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "digit-recognizer" / "rendered"


def unipen_images(
    split: unipen.WriterSplit,
    variants: int,
    seed: int,
    path: str | None = None,
    limit: int | None = None,
    *,
    vary: bool = False,
    styles: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, str]:
    """The writers of ``split``, each digit drawn ``variants`` times: uint8 (N, 28, 28), labels (N,), sha256.

    The first drawing of each digit is its strokes as written. With ``vary``, every
    other drawing is another take (``variation.vary``), and a share ``styles`` of
    them carries a generated style of its class (a flag on a 1, a crossbar on a 7...).
    ``limit`` draws only the first digits of the file (quick runs), about that many images in all.
    """
    data = unipen.load((split,), path)
    samples = data.samples[: max(1, limit // variants)] if limit else data.samples
    how = f"-x{styles:g}" if vary else ""
    key = f"unipen-{split}-v{variants}{how}-s{seed}-n{len(samples)}-{data.sha256[:12]}-r{RENDER_VERSION}"
    images, labels = _cached(key, lambda: _render_digits(samples, variants, seed, split, vary, styles))
    return images, labels, data.sha256


def junk_images(count: int, seed: int, path: str | None = None) -> np.ndarray:
    """``count`` normalized images of things that are not digits, uint8 (count, 28, 28)."""
    writers = unipen.load(("train",), path)
    key = f"junk-{count}-s{seed}-{writers.sha256[:12]}-r{RENDER_VERSION}"
    return _cached(key, lambda: (_render_junk(writers.samples, count, seed), np.array([], dtype=np.int64)))[0]


def _cached(key: str, make: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Load ``key`` from the cache, or make it and store it atomically (a broken cache file is remade)."""
    file = cache_dir() / f"{key}.npz"
    try:
        with np.load(file) as stored:
            return stored["images"], stored["labels"]
    except (OSError, ValueError, KeyError):
        pass
    images, labels = make()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, images=images, labels=labels)
        os.replace(tmp, file)
    except OSError:
        pass  # a read-only cache only costs the rendering next time
    return images, labels


def _quiet() -> bool:
    """No progress bars unless stderr is a terminal: in a log file they are kilobytes of redraws."""
    return not sys.stderr.isatty()


def _render_digits(
    samples: Sequence[InkSample], variants: int, seed: int, split: str, vary: bool, styles: float
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, _stable(split)])
    names, weights = list(STYLE_WEIGHTS), np.array(list(STYLE_WEIGHTS.values()))
    images, labels = [], []
    for sample in tqdm(samples, desc=f"rendering UNIPEN {split} writers", unit="digit", leave=False, disable=_quiet()):
        for k, style in enumerate(rng.choice(names, size=variants, p=weights / weights.sum())):
            strokes = _take(sample, rng, styles) if vary and k > 0 else list(sample.strokes)
            x = as_model_input(synth.STYLES[str(style)](strokes, rng))
            if x is not None:
                images.append(x)
                labels.append(sample.label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def _take(sample: InkSample, rng: np.random.Generator, styles: float) -> list[Stroke]:
    """Another take of a real digit; a share ``styles`` of them in a generated style of its class."""
    strokes = list(sample.strokes)
    if rng.random() < styles:
        made = variation.generated_style(sample.label, strokes, rng)
        if made is not None:
            strokes = made[1]
    return variation.vary(strokes, rng)


def _render_junk(samples: Sequence[InkSample], count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, _stable("junk")])
    images: list[np.ndarray] = []
    with tqdm(total=count, desc="rendering junk", unit="image", leave=False, disable=_quiet()) as bar:
        while len(images) < count:
            picture = _merged_pair(samples, rng) if rng.random() < PAIR_SHARE else synth.junk(rng)
            x = as_model_input(picture)
            if x is not None:
                images.append(x)
                bar.update()
    return np.stack(images)


def _merged_pair(samples: Sequence[InkSample], rng: np.random.Generator) -> np.ndarray:
    first, second = (samples[int(i)].strokes for i in rng.integers(0, len(samples), size=2))
    strokes: list[Stroke] = synth.pair(first, second, rng)
    return synth.canvas(strokes, rng)


def as_model_input(picture: np.ndarray) -> np.ndarray | None:
    """A picture as the apps' preprocessing makes it, uint8 28x28; None when it holds no ink.

    The stray-mark rule is not applied here: the model learns those marks too, so
    it refuses them wherever the rule does not run (pieces of a number).
    """
    try:
        ink, _ = find_ink(load_gray(picture))
        x = normalize(ink)
    except NoDigit:
        return None
    assert x.shape == (FIELD, FIELD)
    return np.round(x * 255).astype(np.uint8)


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
