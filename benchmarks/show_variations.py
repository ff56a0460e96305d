"""A picture of what ``variation`` makes: real UNIPEN training digits, another take, and each generated style.

Usage:  python benchmarks/show_variations.py [--out docs/variations.png] [--seed 0]

Each row is one real digit from a UNIPEN training writer: the original, three takes
by ``variation.vary``, then the generated styles of its class (when it has one), each
sent through the apps' own preprocessing as training sends it (what the model sees).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from digit_recognizer import synth, unipen, variation
from digit_recognizer.training.handwriting import as_model_input


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/variations.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(args.seed)
    samples = unipen.load(("train",)).samples
    rows = []
    for label in (1, 1, 2, 3, 7, 7, 8, 9, 4, 0):
        candidates = [s for s in samples if s.label == label]
        sample = candidates[int(rng.integers(len(candidates)))]
        tiles = [("original", sample.strokes)] + [
            ("another take", variation.vary(sample.strokes, rng)) for _ in range(3)
        ]
        for name, make in variation.GENERATED_STYLES.get(label, {}).items():
            tiles.append((name, make(sample.strokes, rng)))
        rows.append((label, tiles))
    cols = max(len(t) for _, t in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(cols * 1.35, len(rows) * 1.45))
    for ax in np.ravel(axes):
        ax.axis("off")
    for r, (_, tiles) in enumerate(rows):
        for c, (name, strokes) in enumerate(tiles):
            x = as_model_input(synth.canvas(strokes, rng))
            if x is not None:
                axes[r, c].imshow(x, cmap="gray", vmin=0, vmax=255)
            axes[r, c].set_title(name, fontsize=6)
    fig.suptitle(
        "Training variations of real UNIPEN digits, as the model sees them (benchmarks/show_variations.py)", fontsize=8
    )
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"figure saved to {args.out}")


if __name__ == "__main__":
    main()
