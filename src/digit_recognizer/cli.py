"""The `digits` command: argument parsing only; each verb calls one library function.

Errors the user can fix (missing data, a bad image, a missing extra) are printed as
one `error:` line with the fix, and the command exits with status 2; nothing here
lets a traceback reach the terminal for those.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from ._extras import MissingExtra, require


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=argv[0] if argv and argv[0] in VERB_NAMES else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except _user_errors() as exc:  # evaluated only when something was raised: no imports at start-up
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors the user can fix, each with a message saying how: printed as one line, never a traceback."""
    from .bulk import BulkError
    from .data import DataError
    from .preprocess import ImageError
    from .recognizer import ModelError

    return (DataError, ModelError, ImageError, MissingExtra, BulkError)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole `digits` parser, or with ``only`` one verb's (start-up time: other verbs import more)."""
    parser = argparse.ArgumentParser(
        prog="digits",
        description="Recognize handwritten digits: train and evaluate the CNN, read digits from images, "
        "draw them in a window or a web page.",
        epilog="Run `digits VERB --help` for a verb's options.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"digit-recognizer {__version__}")
    verbs = parser.add_subparsers(title="verbs", metavar="VERB")
    for add in VERBS:
        if only is None or add.__name__ == f"add_{only.replace('-', '_')}":
            add(verbs)
    return parser


class HelpFormatter(argparse.HelpFormatter):
    """Each option's default said once: in its help's own words when it has them, else the value.

    argparse's ArgumentDefaultsHelpFormatter appends the raw value to every option, so an
    option whose help explains its default ("default: all cores") read "(default: None)"
    too, and flags read "(default: False)". Flags and options without a value get nothing.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.nargs == 0:
            return text
        if action.default is None or action.default == argparse.SUPPRESS or action.default in ([], ()):
            return text
        return f"{text} (default: %(default)s)"


def _verb(verbs: Any, name: str, help: str) -> argparse.ArgumentParser:
    return verbs.add_parser(name, help=help, description=help, formatter_class=HelpFormatter)


def _data_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the four MNIST IDX files (default: $DIGITS_DATA_DIR, else ~/.cache/digit-recognizer/mnist)",
    )


def _model_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        metavar="PATH",
        help="ONNX model file, or 'shipped' for the model in the package "
        "(default: your personal model from `digits adapt` when there is one, else the shipped one)",
    )


def _resolve_model(args: argparse.Namespace) -> None:
    """Replace ``args.model`` by the file to load; say so on stderr when it is the personal model."""
    from .recognizer import shipped_model_path
    from .userdata import personal_model_path, resolve_model

    path, description = resolve_model(args.model)
    if args.model is None and path == personal_model_path():
        print(f"using {description}", file=sys.stderr)
    args.model = None if path == shipped_model_path() else str(path)  # None: the apps' shipped-model messages


# --------------------------------------------------------------------------- data


def add_data(verbs: Any) -> None:
    p = _verb(verbs, "data", "Find or download MNIST and verify its checksums.")
    _data_dir_option(p)
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    p.epilog = (
        "Environment: DIGITS_MNIST_MIRRORS replaces the HTTPS mirrors (URLs separated by commas or spaces); "
        "DIGITS_DOWNLOAD_TIMEOUT is the most seconds one file's download may take (default 300)."
    )
    p.set_defaults(func=cmd_data)


def cmd_data(args: argparse.Namespace) -> int:
    from . import data

    directory = data.ensure_files(args.data_dir, download=not args.no_download)
    for split in ("train", "test"):  # one read per file: checksums and structure checked together
        ds = data.load_split(split, directory, download=False, verify=True)
        print(f"{split:<5} {len(ds):>6} images  28x28  labels 0-9  sha256 verified")
    print(f"MNIST is ready in {directory} ({len(data.CHECKSUMS)} files).")
    return 0


# --------------------------------------------------------------------------- train


def add_train(verbs: Any) -> None:
    from .training.config import DEVICES, MNIST_TRAIN_IMAGES, PRECISIONS, TrainConfig

    d = TrainConfig().to_dict()

    p = _verb(verbs, "train", "Train the CNN on MNIST and export model.onnx with its model card.")
    _data_dir_option(p)
    p.add_argument("--epochs", type=_whole(1), default=d["epochs"], help="passes over the training images")
    p.add_argument(
        "--batch-size", type=_whole(1), default=d["batch_size"], help="images per optimizer step (per process)"
    )
    p.add_argument(
        "--lr", type=_number(0, None, "> 0"), default=d["lr"], help="peak learning rate (one-cycle schedule, AdamW)"
    )
    p.add_argument(
        "--weight-decay", type=_number(0, None, ">= 0"), default=d["weight_decay"], help="AdamW weight decay"
    )
    p.add_argument(
        "--label-smoothing",
        type=_number(0, 1, "in [0, 1)"),
        default=d["label_smoothing"],
        help="cross-entropy smoothing",
    )
    p.add_argument(
        "--seed", type=_whole(0), default=d["seed"], help="random seed (same seed, data, device: same result)"
    )
    p.add_argument(
        "--val-size",
        type=_whole(0, MNIST_TRAIN_IMAGES - 1),
        default=d["val_size"],
        help="training images held out for validation; 0 trains on all 60,000 and keeps the last epoch",
    )
    p.add_argument(
        "--limit",
        type=_whole(1),
        default=None,
        help="train on only this many images (quick runs; >= one batch; default: all)",
    )
    p.add_argument("--no-augment", dest="augment", action="store_false", help="turn augmentation off")
    p.add_argument(
        "--no-unipen", dest="unipen", action="store_false", help="MNIST only: leave out UNIPEN's pen-drawn digits"
    )
    p.add_argument(
        "--unipen-variants",
        type=_whole(1),
        default=d["unipen_variants"],
        help="times each UNIPEN training digit is drawn, in varied input styles",
    )
    p.add_argument(
        "--no-unipen-vary",
        dest="unipen_vary",
        action="store_false",
        help="draw UNIPEN digits only as written: no other takes of their strokes, no generated styles",
    )
    p.add_argument(
        "--generated-styles",
        type=_number(0, None, ">= 0"),
        default=d["generated_styles"],
        metavar="SHARE",
        help="share in [0, 1] of the other takes drawn in a generated style: a flag on a 1, a crossed 7, a looped 2",
    )
    p.add_argument(
        "--channels",
        type=_channels,
        default=(d["model"]["c1"], d["model"]["c2"], d["model"]["c3"]),
        metavar="C1,C2,C3",
        help="channels of the CNN's three convolution stages",
    )
    p.add_argument(
        "--junk",
        type=_whole(0),
        default=d["junk"],
        help="images of the 'not a digit' class (taps, dashes, scribbles...); 0 = a 10-class model",
    )
    p.add_argument("--device", choices=DEVICES, default="auto", help="where to train")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=d["precision"],
        help="auto: bf16 autocast on a GPU that supports it, float32 elsewhere",
    )
    p.add_argument("--threads", type=_whole(1), default=None, help="CPU threads for PyTorch (default: all cores)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: a new runs/train/expN)")
    p.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="CHECKPOINT",
        help="continue an interrupted run from its last.pt (with the config saved in it)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="smoke test: 1 epoch on 1,024 images, output in --out or runs/"
    )
    p.set_defaults(func=cmd_train)


def _channels(text: str) -> tuple[int, int, int]:
    """``40,80,160``: three whole numbers >= 1, the channels of the CNN's three stages."""
    parts = text.replace(" ", "").split(",")
    if len(parts) != 3 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"must be three whole numbers >= 1 such as 40,80,160, got {text!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _whole(low: int, high: int | None = None) -> Any:
    """An argparse type: a whole number in [low, high], refused with the rule in argparse's one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            rule = f">= {low}" if high is None else f"between {low} and {high:,}"
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value

    return parse


def _number(low: float, high: float | None, rule: str) -> Any:
    """An argparse type: a finite number; above ``low`` (or at it for ">= ..." rules) and below ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        low_ok = value >= low if rule.startswith((">=", "in [")) else value > low
        if not math.isfinite(value) or not low_ok or (high is not None and value >= high):
            raise argparse.ArgumentTypeError(f"must be a finite number {rule}, got {text}")
        return value

    return parse


def cmd_train(args: argparse.Namespace) -> int:
    require("torch", "digits train")
    require("onnx", "digits train (ONNX export)")
    from .training.config import ModelConfig, TrainingError
    from .training.loop import TrainConfig, train

    try:
        cfg = TrainConfig(
            epochs=1 if args.dry_run else args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=args.weight_decay,
            label_smoothing=args.label_smoothing,
            seed=args.seed,
            val_size=min(args.val_size, 512) if args.dry_run else args.val_size,
            limit=1024 if args.dry_run else args.limit,
            augment=args.augment,
            unipen=args.unipen,
            unipen_variants=args.unipen_variants,
            unipen_vary=args.unipen_vary,
            generated_styles=args.generated_styles,
            junk=args.junk,
            model=ModelConfig(
                c1=args.channels[0], c2=args.channels[1], c3=args.channels[2], classes=11 if args.junk else 10
            ),
            device=args.device,
            precision=args.precision,
            threads=args.threads,
        )
        train(cfg, data_dir=args.data_dir, out=args.out, resume=args.resume)
    except TrainingError as exc:
        if os.environ.get("RANK", "0") == "0":  # under torchrun every process finds it; the first one says it
            print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


# --------------------------------------------------------------------------- train-numbers


def add_train_numbers(verbs: Any) -> None:
    from .training.numbers import MAX_LENGTH

    p = _verb(
        verbs,
        "train-numbers",
        f"Train the sequence reader (CNN + BiLSTM + CTC) that reads numbers whose digits touch, on 1-{MAX_LENGTH} "
        "digit numbers composed from UNIPEN training writers and MNIST digits; exports model.onnx + model.json.",
    )
    d = _sequence_defaults()
    p.add_argument("--epochs", type=_whole(1), default=d["epochs"], help="passes over the composed numbers")
    p.add_argument("--numbers", type=_whole(64), default=d["numbers"], help="composed training numbers")
    p.add_argument("--val-numbers", type=_whole(16), default=d["val_numbers"], help="numbers from validation writers")
    p.add_argument("--batch-size", type=_whole(1), default=d["batch_size"], help="numbers per step")
    p.add_argument("--lr", type=_number(0, 1, "in (0, 1)"), default=d["lr"], help="peak learning rate (one-cycle)")
    p.add_argument("--seed", type=int, default=d["seed"], help="random seed (data and weights)")
    p.add_argument("--threads", type=_whole(1), default=None, help="CPU threads for PyTorch (default: all cores)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: a new runs/numbers/expN)")
    p.add_argument("--resume", type=Path, default=None, metavar="CHECKPOINT", help="continue a run from its last.pt")
    _data_dir_option(p)
    p.add_argument("--dry-run", action="store_true", help="smoke test: 1 epoch on 128 numbers")
    p.set_defaults(func=cmd_train_numbers)


def _sequence_defaults() -> dict[str, Any]:
    """The trainer's defaults without importing torch (argparse help at start-up)."""
    return {"epochs": 16, "numbers": 28_000, "val_numbers": 600, "batch_size": 32, "lr": 2e-3, "seed": 0}


def cmd_train_numbers(args: argparse.Namespace) -> int:
    require("torch", "digits train-numbers")
    require("onnx", "digits train-numbers (ONNX export)")
    from .training.config import TrainingError
    from .training.sequence import SequenceConfig, train_numbers

    cfg = SequenceConfig(
        epochs=1 if args.dry_run else args.epochs,
        numbers=128 if args.dry_run else args.numbers,
        val_numbers=32 if args.dry_run else args.val_numbers,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
    )
    try:
        train_numbers(cfg, data_dir=args.data_dir, out=args.out, resume=args.resume)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


# --------------------------------------------------------------------------- adapt


def add_adapt(verbs: Any) -> None:
    from .training.config import MIN_CORRECTIONS, AdaptConfig
    from .userdata import corrections_dir, personal_model_path

    p = _verb(
        verbs,
        "adapt",
        "Learn your handwriting: fine-tune a model on the digits you corrected with 'Wrong?' "
        "and save it as your personal model, which draw, serve and predict then use.",
    )
    p.add_argument(
        "--corrections",
        type=Path,
        metavar="DIR",
        default=None,
        help=f"labelled images in DIR/0 ... DIR/9, at least {MIN_CORRECTIONS} (default: where the apps save "
        f"corrections, now {corrections_dir()})",
    )
    p.add_argument(
        "--model", type=Path, metavar="PATH", help="ONNX model to start from, with its .pt beside it (default: shipped)"
    )
    p.add_argument(
        "--out", type=Path, metavar="PATH", help=f"where to write the model (default: {personal_model_path()})"
    )
    _data_dir_option(p)
    p.add_argument("--epochs", type=int, default=AdaptConfig().epochs, help="passes over your re-drawn digits")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for PyTorch (default: all cores)")
    p.set_defaults(func=cmd_adapt)


def cmd_adapt(args: argparse.Namespace) -> int:
    require("torch", "digits adapt")
    require("onnx", "digits adapt (ONNX export)")
    from .training.adapt import AdaptError, adapt
    from .training.config import AdaptConfig
    from .unipen import UnipenError
    from .userdata import corrections_dir, personal_model_path

    if args.epochs < 1:
        raise SystemExit(f"error: --epochs must be positive, got {args.epochs}")
    folder = args.corrections or corrections_dir()
    out = args.out or personal_model_path()
    try:
        result = adapt(
            folder,
            out,
            model_path=args.model,
            data_dir=args.data_dir,
            cfg=AdaptConfig(epochs=args.epochs, threads=args.threads),
        )
    except (AdaptError, UnipenError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_adapted(result.card["adapted"], out))
    return 0


def format_adapted(adapted: dict[str, Any], out: Path) -> str:
    """The before/after table `digits adapt` ends with."""

    def pct(value: float | None) -> str:
        return "   n/a" if value is None else f"{value:6.1%}"

    before, after = adapted["before"], adapted["after"]
    kept = adapted["kept_aside"]
    return "\n".join(
        [
            f"{'':<44}{'before':>8}{'after':>8}",
            f"{f'your kept-aside corrections ({kept})':<44}{pct(before['held_out']):>8}{pct(after['held_out']):>8}",
            f"{'general validation (other writers, marks)':<44}{pct(before['general']):>8}{pct(after['general']):>8}",
            f"personal model written to {out} ({adapted['seconds']:.0f} s).",
            "digits draw, serve and predict now use it; --model shipped uses the standard model.",
        ]
    )


# --------------------------------------------------------------------------- evaluate


def add_evaluate(verbs: Any) -> None:
    p = _verb(verbs, "evaluate", "Measure a model on the MNIST test set or on a folder of your own labelled images.")
    _model_option(p)
    _data_dir_option(p)
    p.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="evaluate on DIR/0 ... DIR/9 (your own images, through the same preprocessing as the apps)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (accuracy, n, per-class figures, ...)")
    p.add_argument("--report", type=Path, metavar="DIR", help="also write report.json and plots to DIR")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """The report on stdout; exit 1 (after it) when some files could not be read, each listed on stderr."""
    from . import evaluation
    from .predict import printable

    _resolve_model(args)
    if args.images:
        report = evaluation.evaluate_folder(args.model, args.images)
    else:
        report = evaluation.evaluate_mnist(args.model, args.data_dir)
    if args.report:
        require("matplotlib", "digits evaluate --report")
        written = evaluation.write_report(report, args.report)
        print(f"report written: {', '.join(str(p) for p in written)}", file=sys.stderr)
    print(json.dumps(report.to_dict()) if args.json else evaluation.format_report(report))
    for bad in report.unreadable:
        print(printable(f"error: {bad['path']}: {bad['error']}"), file=sys.stderr)
    return 1 if report.unreadable else 0


# --------------------------------------------------------------------------- predict


def add_predict(verbs: Any) -> None:
    p = _verb(verbs, "predict", "Recognize the digit (or, with --multi, the number) in image files.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, or folders of them")
    _model_option(p)
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    p.add_argument("--top-k", type=int, default=3, metavar="K", help="alternatives shown in the table")
    p.add_argument("--multi", action="store_true", help="read a whole number: every digit, left to right")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="cores to read images on (default: all)")
    p.add_argument(
        "--digits", type=int, metavar="N", help="the number has exactly N digits: read the best N (implies --multi)"
    )
    ray = p.add_argument_group("past one machine, on Ray Data (pip install 'digit-recognizer[ray]')")
    ray.add_argument(
        "--ray",
        action="store_true",
        help="read on a Ray cluster: a local one for the run, else $RAY_ADDRESS's; a PATH may also be an "
        "http(s) URL, an s3:// (or other pyarrow filesystem) path, or a Parquet table with an 'image' column",
    )
    ray.add_argument("--ray-address", metavar="ADDRESS", help="join the Ray cluster at ADDRESS (HOST:6379)")
    ray.add_argument(
        "--workers", type=_positive_int, metavar="N", help="recognizers, one CPU each (default: all the cluster's CPUs)"
    )
    ray.add_argument("--output", type=Path, metavar="FILE", help="write the results to FILE.parquet or FILE.jsonl")
    p.set_defaults(func=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    from .predict import predict_files
    from .segment import MAX_DIGITS

    if not 1 <= args.top_k <= 10:
        raise SystemExit(f"error: --top-k must be between 1 and 10, got {args.top_k}")
    if args.jobs is not None and args.jobs < 1:
        raise SystemExit(f"error: --jobs must be at least 1, got {args.jobs}")
    if args.digits is not None and not 1 <= args.digits <= MAX_DIGITS:
        raise SystemExit(f"error: --digits must be between 1 and {MAX_DIGITS}, got {args.digits}")
    given = [flag for flag in ("ray_address", "workers", "output") if getattr(args, flag) is not None]
    if given and not args.ray:
        raise SystemExit(f"error: --{given[0].replace('_', '-')} is for --ray: add --ray, or leave it out")
    if args.ray and args.jobs is not None:
        raise SystemExit("error: --jobs is for one machine; with --ray, --workers N says how many recognizers run")
    _resolve_model(args)
    multi = args.multi or args.digits is not None
    common: dict[str, Any] = {
        "model": args.model,
        "as_json": args.json,
        "top_k": args.top_k,
        "multi": multi,
        "digits": args.digits,
    }
    if args.ray:
        from .bulk import predict_on_ray

        where = {"address": args.ray_address, "workers": args.workers, "output": args.output}
        return predict_on_ray(args.paths, **common, **where)
    return predict_files([Path(path) for path in args.paths], **common, jobs=args.jobs)


# --------------------------------------------------------------------------- draw


def add_draw(verbs: Any) -> None:
    p = _verb(verbs, "draw", "Open a window to draw digits (or numbers) and see them recognized as you draw.")
    _model_option(p)
    p.add_argument("--multi", action="store_true", help="start in number mode (several digits side by side)")
    p.add_argument("--verbose", action="store_true", help="log every recognition to stderr with its timing")
    p.set_defaults(func=cmd_draw)


def cmd_draw(args: argparse.Namespace) -> int:
    from .desktop import run

    _resolve_model(args)
    return run(model=args.model, multi=args.multi, verbose=args.verbose)


# --------------------------------------------------------------------------- serve


def add_serve(verbs: Any) -> None:
    p = _verb(verbs, "serve", "Serve the drawing page and the HTTP API (POST /api/predict).")
    p.add_argument("--host", default="127.0.0.1", help="address to bind; 0.0.0.0 exposes it to your network")
    p.add_argument("--port", type=_port, default=8000, help="TCP port, 1-65535")
    _model_option(p)
    p.add_argument("--workers", type=_positive_int, default=1, help="server processes (each loads the model once)")
    p.add_argument(
        "--max-body-mb",
        type=_positive_number,
        default=None,
        metavar="MB",
        help="largest request body accepted (default: $DIGITS_MAX_BODY_MB, else 5)",
    )
    p.add_argument(
        "--max-megapixels",
        type=_positive_number,
        default=None,
        metavar="MP",
        help="largest image accepted, by its decoded pixel count, checked before decoding (default: 4)",
    )
    p.add_argument(
        "--header-timeout",
        type=_positive_number,
        default=None,
        metavar="S",
        help="seconds to send headers (default: 10)",
    )
    p.add_argument(
        "--body-timeout", type=_positive_number, default=None, metavar="S", help="seconds to send a body (default: 30)"
    )
    p.add_argument(
        "--send-timeout",
        type=_positive_number,
        default=None,
        metavar="S",
        help="seconds a response waits for a client that stopped reading before it is cut off (20)",
    )
    p.add_argument(
        "--max-connections",
        type=_positive_int,
        default=None,
        metavar="N",
        help="open connections per worker (default: 1000, or fewer to fit the open-file limit); over it, the "
        "connection waiting longest for its headers is closed",
    )
    p.add_argument(
        "--allowed-hosts",
        type=_hosts,
        default=(),
        metavar="HOSTS",
        help="comma-separated Host names to answer, e.g. digits.example.org,*.example.org (default: any); "
        "set it for a public deployment",
    )
    p.add_argument(
        "--cors",
        type=_origin,
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let pages of this site call the API from the browser, e.g. https://example.org (repeatable; "
        "default: none)",
    )
    p.add_argument("--access-log", action="store_true", help="log every request to stderr")
    p.add_argument(
        "--corrections-dir",
        metavar="DIR",
        help="store the page's corrections (Wrong?) in DIR/<digit>/ (default: not stored; the page offers a download)",
    )
    p.set_defaults(func=cmd_serve)


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 1-65535, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _hosts(text: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower() for h in text.split(",") if h.strip())
    for host in hosts:
        if "*" in host[1:] or (host.startswith("*") and host != "*" and not host.startswith("*.")):
            raise argparse.ArgumentTypeError(f"{host!r}: a wildcard must look like *.example.org")
        if "/" in host or " " in host:
            raise argparse.ArgumentTypeError(f"{host!r} is not a host name; give names like digits.example.org")
    if not hosts:
        raise argparse.ArgumentTypeError("give at least one host name, e.g. digits.example.org")
    return hosts


def _origin(text: str) -> str:
    if text == "*":
        return text
    scheme, sep, rest = text.partition("://")
    if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an origin; give scheme and host, e.g. https://example.org or http://localhost:3000"
        )
    return text


def cmd_serve(args: argparse.Namespace) -> int:
    for module in ("fastapi", "uvicorn", "orjson", "fastapi_offline"):
        require(module, "digits serve")
    from .web.corrections import CORRECTIONS_ENV
    from .web.server import run

    if args.corrections_dir:
        os.environ[CORRECTIONS_ENV] = str(Path(args.corrections_dir).expanduser().resolve())  # read by every worker
    _resolve_model(args)
    return run(
        host=args.host,
        port=args.port,
        model=args.model,
        workers=args.workers,
        max_body_mb=args.max_body_mb,
        access_log=args.access_log,
        max_megapixels=args.max_megapixels,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        send_timeout=args.send_timeout,
        max_connections=args.max_connections,
        allowed_hosts=args.allowed_hosts,
        cors=args.cors,
    )


VERBS = [add_data, add_train, add_train_numbers, add_adapt, add_evaluate, add_predict, add_draw, add_serve]
VERB_NAMES = {add.__name__.removeprefix("add_").replace("_", "-") for add in VERBS}
