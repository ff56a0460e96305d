"""The MNIST test set as PNG files, read back through `digits predict`: does preprocessing cost accuracy?

The model's own test accuracy is measured on MNIST's arrays as they are. Here each
of the 10,000 test images is written as a PNG file and recognized by the whole
`digits predict --json` path (file reading, polarity, cropping, re-scaling,
centring), as a user's files would be. Target (issue #3): within 0.1 point.

Usage:  python benchmarks/bench_mnist_png.py [--n 10000] [--model PATH] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
from PIL import Image

from digit_recognizer import Recognizer, data
from digit_recognizer.predict import predict_files


def write_pngs(images: np.ndarray, folder: Path) -> list[Path]:
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{i:05d}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def accuracy_through_predict(paths: list[Path], labels: np.ndarray, model: str | None) -> tuple[float, int]:
    """Accuracy of `digits predict --json` over the files, and how many came back with no digit."""
    out = io.StringIO()
    with redirect_stdout(out):
        predict_files(paths, model=model, as_json=True)
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    read = np.array([-1 if r.get("digit") is None else r["digit"] for r in results])
    return float((read == labels).mean()), int((read < 0).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="test images to use (default all 10,000)")
    parser.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITS_DATA_DIR or the cache)")
    args = parser.parse_args()

    test = data.load_split("test", args.data_dir)
    images, labels = test.images[: args.n], test.labels[: args.n]
    recognizer = Recognizer.load(args.model)
    direct = float((recognizer.probabilities(images / np.float32(255)).argmax(1) == labels).mean())
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_pngs(images, Path(tmp))
        start = time.perf_counter()
        through_files, blank = accuracy_through_predict(paths, labels, args.model)
        seconds = time.perf_counter() - start
    print(f"MNIST test images ({len(labels)}), model {recognizer.path.name}")
    print(f"{'path':<44}{'accuracy':>10}")
    print(f"{'model on the MNIST arrays':<44}{direct:>10.2%}")
    print(f"{'PNG files through `digits predict --json`':<44}{through_files:>10.2%}")
    print(
        f"difference {100 * (through_files - direct):+.2f} points; {blank} read as no digit; "
        f"{len(labels) / seconds:.0f} files/s"
    )


if __name__ == "__main__":
    main()
