"""The ``aekit`` command line: thin over the estimators.

Every command validates its input and, on a user error, prints one line saying what
was wrong and what to do, then exits with status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import aekit
from aekit import run_config
from aekit.data.images import COLORS, parse_size, write_image_folder
from aekit.data.loading import load_data
from aekit.data.tables import TABLE_SUFFIXES
from aekit.data.preprocessing import Preprocessing
from aekit.utils.files import FolderBusyError, atomic_write, check_writable, folder_lock

# The estimators (scikit-learn, torch) are imported by the commands that use them, and the
# `train` and `export` arguments are built only when that command is parsed: `aekit --help`
# and every command's --help start without them.
if TYPE_CHECKING:
    from aekit.data.loaded import LoadedData
    from aekit.estimators import params as parameters
    from aekit.estimators.base import BaseAutoEncoder

#: ``aekit train`` sets these itself (--seed and --quiet), whatever their table says.
_CLI_MANAGED = ("random_state", "verbose")


class UserError(Exception):
    """A problem with the command's input, reported without a traceback."""


def _flag_parser(param: parameters.Param) -> Callable[[str], Any]:
    """argparse ``type`` for a parameter's flag: its constraint's parse, its errors shown as they are."""
    from aekit.estimators import params as parameters

    def parse(text: str) -> Any:
        try:
            value = param.constraint.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if isinstance(value, str) and not isinstance(param.constraint, parameters.Choice):
            raise argparse.ArgumentTypeError(f"expected a number; got {text!r}")
        return value

    return parse


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds; got {text!r}")
    return value


def _param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. beta=4); got {text!r}")
    return key, value


def _model_params(
    cls: type[BaseAutoEncoder], pairs: list[tuple[str, str]], typed: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``--param KEY=VALUE`` pairs, each value parsed by that parameter's constraint, or a
    config's ``[param]`` table of ``typed`` values (coerced to the parameter's type)."""
    from aekit.estimators import params as parameters

    table = cls._param_table
    typed = typed or {}
    unknown = ({key for key, _ in pairs} | set(typed)) - set(table)
    if unknown:
        raise UserError(parameters.unknown_params_message(cls.__name__, unknown, table))
    return {
        **{key: table[key].constraint.coerce(value) for key, value in typed.items()},
        **{key: table[key].constraint.parse(value) for key, value in pairs},
    }


def write_array(path: str, n_rows: int, blocks: Iterable[np.ndarray]) -> tuple[int, ...]:
    """Save an (n_rows, ...) array given as consecutive row blocks, as .npy or .csv by suffix.

    Atomic, and one block in memory at a time, so results of inputs larger than
    memory are written as they are computed.  Returns the array's shape.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise UserError(f"--out {path}: use a .npy or .csv file name.")
    shape: tuple[int, ...] = (n_rows,)

    def write(tmp: str) -> None:
        nonlocal shape
        with open(tmp, "wb") as f:
            for first, block in enumerate(blocks):
                if first == 0:
                    shape = (n_rows, *block.shape[1:])
                    if suffix == ".npy":
                        header = {"descr": np.lib.format.dtype_to_descr(block.dtype), "fortran_order": False}
                        np.lib.format.write_array_header_1_0(f, {**header, "shape": shape})
                if suffix == ".npy":
                    f.write(np.ascontiguousarray(block).tobytes())
                else:
                    np.savetxt(f, block.reshape(len(block), -1), delimiter=",", fmt="%.7g")

    atomic_write(target, write)
    return shape


# ---------------------------------------------------------------------------- commands
def _columns(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def _load(args: argparse.Namespace, recorded: dict | None = None) -> LoadedData:
    """The DATA argument read with the command's --drop, --size and --color (an image folder
    defaults to the size and colour the run was trained with), saying what was chosen."""
    recorded = recorded or {}
    size = parse_size(args.size) if getattr(args, "size", None) else recorded.get("size")
    color = getattr(args, "color", None) or recorded.get("color")
    loaded = load_data(args.data, drop=_columns(args.drop), size=None if size is None else tuple(size), color=color)
    if loaded.description:
        print(f"aekit: {args.data}: {loaded.description}", file=sys.stderr)
    if recorded.get("columns") and loaded.frame is not None:
        _in_training_columns(loaded, recorded["columns"], args.data)
    return loaded


def _in_training_columns(loaded: LoadedData, columns: list[str], path: str) -> None:
    """A numeric table's columns by name, in the training table's order: a renamed, missing or extra
    column is an error naming it, and reordered columns are put back in place."""
    from aekit.data.tables import TableError, is_plain_numeric, select_columns

    try:
        frame = select_columns(loaded.frame, columns, path)
    except TableError as exc:
        raise UserError(str(exc)) from None
    if [str(c) for c in loaded.frame.columns] != columns:
        print(f"aekit: {path}: columns put in the training table's order {columns}", file=sys.stderr)
    loaded.frame = frame
    loaded.X = frame.to_numpy(dtype=np.float64) if is_plain_numeric(frame) else frame


def _table_columns(loaded: LoadedData) -> list[str] | None:
    """What run.json records of a numeric table: its column names, which later commands check."""
    return None if loaded.frame is None else [str(c) for c in loaded.frame.columns]


def _image_settings(loaded: LoadedData, path: str) -> dict | None:
    """What run.json records of an image folder so that later commands read it the same way."""
    if not Path(path).is_dir():
        return None
    return {"size": list(loaded.X.shape[-2:]), "color": "rgb" if loaded.X.ndim == 4 else "grey"}


def _recorded_reading(summary: dict) -> dict:
    """How the run read its data, from its run.json: an image folder's size and colour, a numeric
    table's columns; later commands read their DATA the same way."""
    return {**(summary.get("image_folder") or {}), "columns": summary.get("columns")}


def _recorded_for(run_dir: str) -> dict:
    """:func:`_recorded_reading` of the run in ``run_dir`` (whose run.json load_run has checked)."""
    from aekit.runs import read_summary

    return _recorded_reading(read_summary(Path(run_dir)))


#: ``aekit train`` flags whose default is not None: None in the namespace means "not given", so that a
#: --config file's key can fill it (see :func:`_train_args`); --ddp-timeout's default is distributed's.
_TRAIN_DEFAULTS = {
    "seed": 0,
    "quiet": False,
    "resume": False,
    "overwrite": False,
    "keep_checkpoint": False,
}


def _train_args(args: argparse.Namespace) -> dict[str, Any]:
    """Fill ``args`` from --config (the command line wins) and the defaults; check the required
    values; return the config's ``[param]`` table."""
    from aekit import tracking
    from aekit.train import distributed

    config_params: dict[str, Any] = {}
    if args.config:
        config_params = run_config.merge_config(args, args.parser, run_config.read_config(args.config), args.config)
    for name, default in {**_TRAIN_DEFAULTS, "ddp_timeout": distributed.DEFAULT_TIMEOUT_SECONDS}.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.log:
        tracking.parse_log_spec(args.log)  # a malformed --log fails before any data is read
    missing = [f"{'--' if name != 'model' else ''}{name}" for name in ("model", "data", "out") if getattr(args, name) is None]
    if missing:
        raise UserError(
            f"{', '.join(missing)} not given: pass {'them' if len(missing) > 1 else 'it'} on the command line "
            "or as keys of a --config file (e.g. aekit train vae --data mnist.npz --out runs/vae)."
        )
    return config_params


def _loggers(args: argparse.Namespace, images: np.ndarray | None) -> list[Any]:
    """The --log trackers (on the main process only); ``args.log`` is rewritten with absolute
    targets, so that the run's config.toml logs to the same places from anywhere."""
    from aekit import tracking
    from aekit.train import distributed

    if not args.log:
        return []
    specs = [
        (kind, str(Path(target).resolve()) if kind == "tensorboard" else tracking.MLflowLogger._uri(target))
        for kind, target in tracking.parse_log_spec(args.log)
    ]
    args.log = ",".join(f"{kind}:{target}" for kind, target in specs)
    if not distributed.is_main_process():
        return []
    try:
        return [
            tracking.TensorBoardLogger(target, images=images) if kind == "tensorboard" else tracking.MLflowLogger(target)
            for kind, target in specs
        ]
    except ImportError as exc:
        raise UserError(str(exc)) from None


def cmd_train(args: argparse.Namespace) -> None:
    from aekit import table_runs
    from aekit.estimators import registry
    from aekit.train import distributed

    config_params = _train_args(args)
    cls = registry.cli_models()[args.model]
    _refuse_foreign_flags(args, cls)
    loaded = _load(args)
    X = loaded.X
    table = table_runs.wants_table_model(loaded, _columns(args.categorical), _columns(args.numeric))
    if table:  # categorical columns or gaps: the table form of the model (schema.json in the run folder)
        cls = table_runs.table_class(args.model)
        X = loaded.frame
    preprocessing = Preprocessing() if table else Preprocessing.fit(X, loaded.kind)
    params = {
        **{name: getattr(args, name) for name in _model_flags(cls) if getattr(args, name) is not None},
        "random_state": args.seed,
        "verbose": 0 if args.quiet else 1,
        **_model_params(cls, [], config_params),
        **_model_params(cls, args.param or []),
        **({"categorical": _columns(args.categorical) or None, "numeric": _columns(args.numeric) or None} if table else {}),
    }
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise UserError(str(exc)) from None
    out = Path(args.out)
    _refuse_same_file(args.data, out)
    _refuse_existing_run(out, args)
    distributed.set_timeout(args.ddp_timeout)
    data_form = {"image_folder": _image_settings(loaded, args.data), "columns": None if table else _table_columns(loaded)}
    if not distributed.is_main_process():
        _train(args, cls, estimator, X, table, preprocessing, data_form, out)  # under torchrun, rank 0 writes the run
        return
    created = not out.exists()
    try:
        check_writable(out)  # a read-only or unwritable --out fails now, not after the first epoch
        with folder_lock(out):  # one writer per run folder: a second `aekit train` into it is refused
            _train(args, cls, estimator, X, table, preprocessing, data_form, out)
    except BaseException:
        if created:  # a run that failed before writing anything leaves no empty folder behind
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


def _refuse_foreign_flags(args: argparse.Namespace, cls: type[BaseAutoEncoder]) -> None:
    """A flag of another model's parameter (``--latent-dim`` for the Flow) is an error, not silently dropped."""
    foreign = [name for name in _train_flags() if getattr(args, name) is not None and name not in cls._param_table]
    if foreign:
        given = ", ".join(_train_flags()[name].cli_flag(name) for name in foreign)
        own = ", ".join(_train_flags()[name].cli_flag(name) for name in _model_flags(cls))
        raise UserError(
            f"{given}: {cls.__name__} (aekit train {args.model}) has no such parameter; leave "
            f"{'them' if len(foreign) > 1 else 'it'} out (from the command line or --config). Its flags: {own}."
        )


def _refuse_existing_run(out: Path, args: argparse.Namespace) -> None:
    """A run folder already holding a run is replaced only on request (--overwrite), or continued (--resume)."""
    from aekit.runs import MODEL_FILE, RUN_FILE
    from aekit.train.checkpoint import CHECKPOINT_FILE

    if args.resume or args.overwrite or not out.is_dir():
        return
    held = [name for name in (RUN_FILE, MODEL_FILE, CHECKPOINT_FILE) if (out / name).exists()]
    if held:
        raise UserError(
            f"{out} already holds a run ({', '.join(held)}); pass --overwrite to replace it, --resume to continue "
            "its checkpoint, or another --out."
        )


def _train(
    args: argparse.Namespace,
    cls: type[BaseAutoEncoder],
    estimator: BaseAutoEncoder,
    X: Any,
    table: bool,
    preprocessing: Preprocessing,
    data_form: dict,
    out: Path,
) -> None:
    """Fit, then (rank 0) write the run folder as one unit: run.json, listing the others, last."""
    from aekit import runs, table_runs, tracking
    from aekit.runs import MODEL_FILE, PREPROCESSING_FILE
    from aekit.train import MappedArray, distributed
    from aekit.train.checkpoint import checkpoint_path
    from aekit.train.sources import should_stream

    if args.resume and not checkpoint_path(out).is_file():
        print(f"aekit train: no checkpoint in {out} yet; starting from the first epoch", file=sys.stderr)
    # A file too large for memory is scaled batch by batch as it is read.
    X_fit = X if table else MappedArray(X, preprocessing.apply) if should_stream(X) else preprocessing.apply(X)
    callbacks = _loggers(args, None if table else preprocessing.apply(np.asarray(X[: tracking.MAX_GRID_IMAGES])))
    started = time.perf_counter()
    estimator.fit(X_fit, checkpoint_dir=out, resume=args.resume, callbacks=callbacks)
    seconds = time.perf_counter() - started
    if not distributed.is_main_process():
        return
    required = [MODEL_FILE, table_runs.SCHEMA_FILE if table else PREPROCESSING_FILE]
    runs.begin_commit(out, required)  # the folder reads as incomplete until run.json is written, last
    estimator.save(out / MODEL_FILE)
    if table:
        table_runs.save_table_run(estimator, out)
    else:
        preprocessing.save(out / PREPROCESSING_FILE)
    summary = {
        "command": " ".join(["aekit", *sys.argv[1:]]) if sys.argv else "aekit train",
        "model": args.model,
        "estimator": cls.__name__,
        "data": str(args.data),
        "n_samples": int(len(X)),
        **data_form,  # how the data was read (image_folder, columns), for the commands that read more
        "epochs_run": estimator.n_epochs_,
        "fit_seconds": round(seconds, 3),
        "final": {k: v[-1] for k, v in estimator.history_.items() if k.startswith(("train_", "val_"))},
        "aekit_version": aekit.__version__,
    }
    runs.commit(out, summary, required)
    if not args.keep_checkpoint:  # the model is saved; the checkpoint (weights, optimizer, best weights) is spare
        checkpoint_path(out).unlink(missing_ok=True)
    config = run_config.resolved_config(args, args.parser, estimator, tuple(_model_flags(cls)), _CLI_MANAGED)
    run_config.write_config(out / run_config.CONFIG_FILE, config)
    decided = [
        f"{name}={getattr(estimator, name + '_')!r}"
        for name in ("latent_dim", "likelihood")
        if getattr(estimator, name, None) == "auto"
    ]
    chosen = f" ({', '.join(decided)}, chosen for this data)" if decided else ""
    print(
        f"trained {cls.__name__}{chosen} on {len(X)} samples in {seconds:.1f} s ({estimator.n_epochs_} epochs); "
        f"saved to {out}"
    )


@dataclass(frozen=True)
class DataCommand:
    """A command that applies a trained model to a data file and writes one array."""

    what: str
    apply: Callable[[BaseAutoEncoder, np.ndarray], np.ndarray]
    in_data_units: bool  # undo the run's preprocessing on the result (reconstructions)


def _denoise(estimator: BaseAutoEncoder, X: np.ndarray) -> np.ndarray:
    if not hasattr(estimator, "denoise"):
        raise UserError(
            f"this run holds a {type(estimator).__name__}, which has no denoise(); train one with "
            "`aekit train denoising ...`, or use `aekit reconstruct`."
        )
    return estimator.denoise(X)


DATA_COMMANDS = {
    "encode": DataCommand("codes (n, latent_dim)", lambda est, X: est.transform(X), False),
    "reconstruct": DataCommand(
        "reconstructions, in the data's shape and scale", lambda est, X: est.reconstruct(X), True
    ),
    "denoise": DataCommand("denoised inputs (denoising models), in the data's shape and scale", _denoise, True),
    "score": DataCommand(
        "per-sample scores, higher = more typical (minus the error; the ELBO for a VAE)",
        lambda est, X: est.score_samples(X),
        False,
    ),
}


def _refuse_same_file(data: str, out: Path, run_dir: str | None = None) -> None:
    """Refuse an output that would overwrite the input data or a file of the run folder."""
    from aekit.runs import MODEL_FILE, PREPROCESSING_FILE, RUN_FILE
    from aekit.train.checkpoint import CHECKPOINT_FILE

    inputs = [Path(data)]
    if run_dir is not None:
        inputs += [Path(run_dir) / name for name in (MODEL_FILE, PREPROCESSING_FILE, RUN_FILE, CHECKPOINT_FILE)]
    for path in inputs:
        if (path.exists() and out.exists() and out.samefile(path)) or path.resolve() == out.resolve():
            raise UserError(f"--out {out} is the input {path}; writing there would replace it. Pass another --out.")


def _check_output_location(out: Path) -> None:
    """Where the output goes (a file, or a folder of PNGs) must be writable: checked before any work is done."""
    check_writable(out.parent)


def cmd_apply(args: argparse.Namespace) -> None:
    from aekit import table_runs
    from aekit.runs import load_run
    from aekit.train import MappedArray
    from aekit.train.sources import should_stream

    out = Path(args.out)
    _refuse_same_file(args.data, out, args.run_dir)
    _check_output_location(out)
    if table_runs.is_table_run(args.run_dir):
        return _apply_table(args)
    if args.command == "impute":
        raise UserError(f"{args.run_dir} was not trained on a table; impute fills gaps of CSV/Parquet tables.")
    command = DATA_COMMANDS[args.command]
    estimator, preprocessing = load_run(args.run_dir)
    loaded = _load(args, _recorded_for(args.run_dir))
    X = loaded.X

    def run(model_input: np.ndarray) -> np.ndarray:
        result = command.apply(estimator, model_input)
        return preprocessing.invert(result) if command.in_data_units else result

    if _is_folder(args.out):
        if not (command.in_data_units and X.ndim >= 3):
            raise UserError(
                f"--out {args.out} is a folder, which receives PNG images: only reconstruct and denoise of images "
                "write them; give a .npy or .csv file name."
            )
        n = write_image_folder(args.out, _as_pixels(run(preprocessing.apply(X)), preprocessing), loaded.names)
        print(f"wrote {n} {args.command} images (PNG) to {args.out}")
        return
    if loaded.kind == "images" and X.ndim == 4 and command.in_data_units:
        # Files hold height x width x channels; the model's channels-first layout stays inside.
        blocks = [run(preprocessing.apply(X)).transpose(0, 2, 3, 1)]
        shape = write_array(args.out, len(X), blocks)
        print(f"wrote {args.command} output {shape} (images, channels last) to {args.out}")
        return

    # Every command works row by row: a file too large for memory is read, run and written in blocks.
    if should_stream(X):
        blocks = (run(block) for _, block in MappedArray(X, preprocessing.apply).chunks())
    else:
        blocks = [run(preprocessing.apply(X))]
    shape = write_array(args.out, len(X), blocks)
    print(f"wrote {args.command} output {shape} to {args.out}")


def cmd_detect(args: argparse.Namespace) -> None:
    """Flag the outliers of DATA with a run's model, at a threshold set on its training data (or inliers)."""
    from aekit import runs, table_runs
    from aekit.runs import load_run
    from aekit.uses.anomaly import AnomalyDetector

    out = Path(args.out)
    _refuse_same_file(args.data, out, args.run_dir)
    _check_output_location(out)
    if out.suffix.lower() != ".csv":
        raise UserError(f"--out {args.out}: detect writes a table of scores and flags; give a .csv file name.")
    run_dir = Path(args.run_dir)
    estimator, preprocessing = load_run(run_dir)
    table = table_runs.is_table_run(run_dir)
    summary = runs.read_summary(run_dir)
    recorded = _recorded_reading(summary)

    def read(path: str) -> Any:
        """The file at ``path`` as the model takes it."""
        loaded = _load(argparse.Namespace(data=path, drop=args.drop, size=args.size, color=args.color), recorded)
        if not table:
            return preprocessing.apply(loaded.X)
        if loaded.frame is None:
            raise UserError(f"{args.run_dir} holds a table model; pass a CSV or Parquet table, not {path}.")
        return table_runs.check_against_run(run_dir, loaded.frame, str(path))

    reference = args.calibrate or summary.get("data")
    if not reference or not Path(reference).exists():
        raise UserError(
            f"the threshold is set on the data the model was trained on ({reference or 'not recorded'}), which is "
            "not there; pass --calibrate FILE (that data, or rows known to be normal)."
        )
    threshold = {"contamination": args.contamination} if args.fpr is None else {"threshold": "fpr", "fpr": args.fpr}
    score = {"score": "elbo"} if hasattr(estimator, "log_likelihood") else {}  # else the detector's default
    detector = AnomalyDetector.from_fitted(estimator, read(reference), **score, **threshold)
    X = read(args.data)
    scores, p_values = detector.score_samples(X), detector.p_values(X)
    outliers = detector.predict(X) == -1
    lines = ["row,score,p_value,outlier"] + [
        f"{i},{s:.7g},{p:.6g},{int(o)}" for i, (s, p, o) in enumerate(zip(scores, p_values, outliers))
    ]
    text = "\n".join(lines) + "\n"
    atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    rule = f"contamination {args.contamination:g}" if args.fpr is None else f"false-positive rate {args.fpr:g}"
    print(
        f"flagged {int(outliers.sum())} of {len(outliers)} rows as outliers (score below {detector.offset_:.6g}, "
        f"the threshold for {rule} on {reference}); wrote {out}"
    )


def _apply_table(args: argparse.Namespace) -> None:
    """encode / score / reconstruct / impute with a table run: the file is checked against its schema."""
    from aekit import table_runs
    from aekit.runs import load_run

    loaded = load_data(args.data, drop=_columns(args.drop))
    if loaded.frame is None:
        raise UserError(f"{args.run_dir} holds a table model; pass a CSV or Parquet table, not {args.data}.")
    frame = table_runs.check_against_run(args.run_dir, loaded.frame, str(args.data))
    estimator, _ = load_run(args.run_dir)
    result = table_runs.apply_to_table(args.command, estimator, frame)
    if hasattr(result, "columns"):
        table_runs.write_frame(result, args.out)
        shape = result.shape
    else:
        shape = write_array(args.out, len(result), [np.asarray(result)])
    print(f"wrote {args.command} output {tuple(shape)} to {args.out}")


def _is_folder(path: str) -> bool:
    """An --out that names a folder (an existing one, a trailing slash, or no suffix) rather than a file."""
    return path.endswith(("/", os.sep)) or Path(path).is_dir() or not Path(path).suffix


def _as_pixels(images: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    if preprocessing.kind != "unit_scale":
        raise UserError(
            "PNG output needs a model trained on 8-bit images (uint8 pixels or an image folder); this run's data "
            "were not pixels. Give a .npy or .csv file name."
        )
    return images


def cmd_sample(args: argparse.Namespace) -> None:
    from aekit.runs import load_run

    _check_output_location(Path(args.out))
    estimator, preprocessing = load_run(args.run_dir)
    samples = preprocessing.invert(estimator.sample(args.n, random_state=args.seed))
    if _is_folder(args.out):
        n = write_image_folder(args.out, _as_pixels(samples, preprocessing))
        print(f"wrote {n} samples (PNG) to {args.out}")
        return
    write_array(args.out, len(samples), [samples])
    print(f"wrote {args.n} samples {samples.shape} to {args.out}")


def cmd_tour(args: argparse.Namespace) -> None:
    from aekit.tour import run_tour

    if args.data and Path(args.data).suffix.lower() in TABLE_SUFFIXES:
        loaded = load_data(args.data)
        if not isinstance(loaded.X, np.ndarray):  # categories or gaps: the table tour
            from aekit.table_tour import run_table_tour

            run_table_tour(loaded.frame, args.data, out=args.out, quick=args.quick)
            return

    budget = {} if args.budget is None else {"budget": args.budget}
    run_tour(
        data=args.data,
        out=args.out,
        quick=args.quick,
        novel_class=args.novel_class,
        image_size=parse_size(args.size) if args.size else None,
        image_color=args.color,
        **budget,
    )


def cmd_export(args: argparse.Namespace) -> None:
    from aekit.estimators.export import PARTS
    from aekit.runs import export_run

    parts = tuple(_columns(args.part)) or PARTS
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise UserError(f"--part {args.part}: {unknown} is not a part; choose from {','.join(PARTS)}.")
    try:
        paths = export_run(args.run_dir, args.out, parts)
    except ImportError as exc:
        raise UserError(str(exc)) from None
    print(f"wrote {', '.join(p.name for p in paths)} (ONNX, dynamic batch, the run's input scaling inside) to {args.out}")


def _add_export_command(commands: Any) -> None:
    commands.add_parser(
        "export",
        help="write a trained model's encoder, decoder and score as ONNX graphs",
        description=textwrap.fill(
            "Write <part>.onnx for the run's encoder (x -> code), decoder (z -> reconstruction) and score "
            "(x -> score, higher = more typical), each with a dynamic batch axis. The graphs take and return "
            "data as the run's files hold them: the run's scaling (uint8 pixels / 255, standardized columns, "
            "a table's numeric columns) is inside them. A table's categorical columns enter as category "
            "indices (listed in schema.json and in each graph's metadata).",
            width=100,
        ),
        epilog="Example: aekit export runs/vae --format onnx --out runs/vae/onnx",
        arguments=_export_arguments,
    )


def _export_arguments(export: argparse.ArgumentParser) -> None:
    from aekit.estimators.export import PARTS

    export.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `aekit train`")
    export.add_argument("--format", choices=("onnx",), default="onnx", help="graph format (default: onnx)")
    export.add_argument("--out", required=True, help="folder to write encoder.onnx, decoder.onnx, score.onnx into")
    export.add_argument("--part", metavar="PART,...", help=f"only these parts (default: {','.join(PARTS)})")
    export.set_defaults(func=cmd_export)


def cmd_cluster(args: argparse.Namespace) -> None:
    """Cluster DATA in the codes of a run's model (k-means, DEC, IDEC or N2D) and write one label per row."""
    from aekit import table_runs
    from aekit.runs import load_run

    out = Path(args.out)
    _refuse_same_file(args.data, out, args.run_dir)
    _check_output_location(out)
    if args.report is not None:  # checked before the clustering, which can take minutes
        report = Path(args.report)
        if report.suffix.lower() not in (".html", ".htm"):
            raise UserError(f"--report {args.report}: the report is one HTML page; give a .html file name.")
        if report.resolve() == out.resolve():
            raise UserError(f"--report {args.report} is also --out; give the labels and the report different files.")
        _refuse_same_file(args.data, report, args.run_dir)
        _check_output_location(report)
    if table_runs.is_table_run(args.run_dir):
        raise UserError(
            f"{args.run_dir} was trained on a table with categories or gaps; cluster its codes with "
            "aekit.DeepClustering in Python, or train on a numeric table."
        )
    estimator, preprocessing = load_run(args.run_dir)
    loaded = _load(args, _recorded_for(args.run_dir))
    clusterer = aekit.DeepClustering(
        estimator, n_clusters=args.n_clusters, method=args.method, epochs=args.epochs, random_state=args.seed,
        umap_n_neighbors=args.umap_n_neighbors, umap_min_dist=args.umap_min_dist, verbose=1,
    )  # fmt: skip
    X = preprocessing.apply(loaded.X)
    clusterer.fit(X, checkpoint_dir=args.checkpoint_dir, resume=args.checkpoint_dir is not None)
    labels = clusterer.labels_.astype(np.int64)
    shape = write_array(args.out, len(labels), [labels[:, None] if out.suffix.lower() == ".csv" else labels])
    sizes = np.bincount(labels, minlength=args.n_clusters)
    print(f"wrote {args.method} cluster labels {shape} to {args.out}; cluster sizes: {sizes.tolist()}")
    y = loaded.y if loaded.y is not None and len(loaded.y) == len(labels) else None
    if y is not None:
        from aekit.metrics import ari, clustering_accuracy, nmi

        print(
            f"against DATA's labels: accuracy {clustering_accuracy(y, labels):.4f}, "
            f"NMI {nmi(y, labels):.4f}, ARI {ari(y, labels):.4f}"
        )
    if args.report is not None:
        from aekit.cluster_report import write_cluster_report

        columns = None if loaded.frame is None else [str(c) for c in loaded.frame.columns]
        write_cluster_report(
            args.report, clusterer, X, y, labels=labels, data_name=Path(args.data).name,
            command=_cluster_command(args), to_data_units=preprocessing.invert,
            feature_names=columns if columns is not None and len(columns) == clusterer.n_features_in_ else None,
        )  # fmt: skip
        print(f"wrote the clustering report to {args.report}")
    if args.save:
        clusterer.save(args.save)
        print(f"saved the clusterer (its fine-tuned model and centres) to {args.save}; load it with aekit.load")


def _cluster_command(args: argparse.Namespace) -> str:
    """The ``aekit cluster`` command line of these arguments, with the settings its method uses (for the report)."""
    import shlex

    parts = ["aekit", "cluster", args.run_dir, args.data, "--n-clusters", str(args.n_clusters), "--method", args.method]
    if args.method in ("dec", "idec"):
        parts += ["--epochs", str(args.epochs)]
    if args.method == "n2d":
        parts += ["--umap-n-neighbors", str(args.umap_n_neighbors), "--umap-min-dist", f"{args.umap_min_dist:g}"]
    parts += ["--seed", str(args.seed)]
    for flag, value in (("--drop", args.drop), ("--size", args.size), ("--color", args.color),
                        ("--checkpoint-dir", args.checkpoint_dir), ("--save", args.save)):  # fmt: skip
        if value is not None:
            parts += [flag, str(value)]
    return shlex.join([*parts, "--out", args.out, "--report", args.report])


def _add_cluster_command(commands: Any) -> None:
    cluster = commands.add_parser(
        "cluster",
        help="cluster DATA in a trained model's codes (k-means, DEC, IDEC or N2D) and write the labels",
        description=textwrap.fill(
            "Cluster the rows of DATA in the codes of the run's model: kmeans (k-means on the codes), dec and idec "
            "(fine-tune the encoder on a self-training KL loss, Xie et al. 2016 / Guo et al. 2017; idec keeps the "
            "reconstruction loss beside it) or n2d (UMAP of the codes, then a Gaussian mixture; McConville et "
            "al. 2019). The run folder is not changed. When DATA has labels (an .npz with y), the accuracy, NMI "
            "and ARI against them are printed. --report writes an HTML page of the clustering: the cluster "
            "sizes, each cluster's centre put through the decoder (images, or a table for tabular data) and, "
            "when DATA has labels, the confusion matrix against them.",
            width=100,
        ),
        epilog="Example: aekit cluster runs/ae mnist.npz --n-clusters 10 --method n2d --out labels.npy "
        "--report clusters.html",
    )
    cluster.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `aekit train`")
    cluster.add_argument("data", metavar="DATA", help=".npy, .npz, .csv or .parquet file, or a folder of images")
    cluster.add_argument("--out", required=True, help="output .npy or .csv file: one cluster label (0..k-1) per row")
    cluster.add_argument("--n-clusters", type=int, default=10, help="number of clusters (default 10)")
    cluster.add_argument("--method", choices=("kmeans", "dec", "idec", "n2d"), default="idec", help="(default idec)")
    cluster.add_argument("--epochs", type=int, default=100, help="most DEC/IDEC fine-tuning epochs (default 100)")
    cluster.add_argument("--umap-n-neighbors", type=int, default=20, help="n2d: UMAP's n_neighbors (default 20)")
    cluster.add_argument("--umap-min-dist", type=float, default=0.0, help="n2d: UMAP's min_dist (default 0)")
    cluster.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    cluster.add_argument("--checkpoint-dir", help="checkpoint DEC/IDEC fine-tuning here; rerunning resumes")
    cluster.add_argument("--save", metavar="DIR", help="also save the clusterer (model file + centres) in DIR")
    cluster.add_argument(
        "--report", metavar="FILE.html", help="also write an HTML report: sizes, decoded centres, confusion matrix"
    )
    cluster.add_argument("--drop", metavar="COL,...", help="table columns to leave out, as in training")
    _add_image_flags(cluster, "(default: as in training)", "(default: as in training)")
    cluster.set_defaults(func=cmd_cluster)


def cmd_report(args: argparse.Namespace) -> None:
    from aekit.tour import run_report

    run_report(args.run_dirs, data=args.data, out=args.out)


# ---------------------------------------------------------------------------- parser
def _train_flags() -> dict[str, parameters.Param]:
    """The parameters with an ``aekit train`` flag, of every CLI model (from the parameter tables)."""
    from aekit.estimators import params as parameters
    from aekit.estimators import registry

    flags = parameters.cli_params(cls._param_table for cls in registry.cli_models().values())
    return {name: param for name, param in flags.items() if name not in _CLI_MANAGED}


def _model_flags(cls: type) -> list[str]:
    """The ``aekit train`` flags that set parameters of ``cls`` (the others it refuses)."""
    return [name for name in _train_flags() if name in cls._param_table]


def _flag_notes(name: str, flag: parameters.Param) -> str:
    """What a flag's help adds to its first model's text: which models take it, when not all do
    (" (only: flow)", " (not: flow)"), and the models that give it another meaning or default."""
    from aekit.estimators import registry

    models = registry.cli_models()
    takers = sorted(model for model, cls in models.items() if name in cls._param_table)
    notes: dict[str, list[str]] = {}
    for model in takers:
        param = models[model]._param_table[name]
        if param.doc != flag.doc:
            notes.setdefault(f"{' '.join(param.doc.split())} (default: {param.default!r})", []).append(model)
        elif param.default != flag.default:
            notes.setdefault(f"default {param.default!r}", []).append(model)
    text = "".join(f"; {', '.join(owners)}: {note}" for note, owners in notes.items())
    if len(takers) < len(models):
        others = sorted(set(models) - set(takers))
        text += f" (only: {', '.join(takers)})" if len(takers) <= len(others) else f" (not: {', '.join(others)})"
    return text


TRAIN_EXAMPLES = (
    ("images in an array", "aekit train vae --data ../shared/data/mnist.npz --out runs/vae --epochs 10 --param beta=2"),
    ("a table", "aekit train ae --data people.csv --drop id --categorical year --out runs/people"),
    ("a folder of images", "aekit train denoising --data photos/ --out runs/photos --epochs 30"),
)


def _train_epilog() -> str:
    """Examples, then every model's own --param keys with their defaults (from the parameter tables)."""
    from aekit.estimators import registry

    lines = ["examples:"]
    for what, command in TRAIN_EXAMPLES:
        lines += [f"  {command}", f"      ({what})"]
    lines += ["", "--param keys of each model (KEY=default; the flags above set the others, each for every model "
              "unless it says only: or not:):"]
    for name, cls in sorted(registry.cli_models().items()):
        flags = set(_model_flags(cls)) | set(_CLI_MANAGED)
        keys = ", ".join(f"{key}={param.default!r}" for key, param in cls._param_table.items() if key not in flags)
        lines.append(textwrap.fill(keys, width=100, initial_indent=f"  {name}: ", subsequent_indent="      "))
    lines.append("Each key is described in the model's docstring, e.g. python -c 'import aekit; help(aekit.VAE)'.")
    return "\n".join(lines)


def _add_image_flags(parser: argparse.ArgumentParser, size_default: str, color_default: str) -> None:
    parser.add_argument(
        "--size", metavar="HxW", help=f"image folders: resize to HEIGHTxWIDTH, cropping to keep the aspect ratio {size_default}"
    )
    parser.add_argument("--color", choices=COLORS, help=f"image folders: read in grey or RGB {color_default}")


def _train_arguments(train: argparse.ArgumentParser) -> None:
    from aekit.estimators import registry
    from aekit.train import distributed

    train.epilog = _train_epilog()
    train.add_argument("model", nargs="?", choices=sorted(registry.cli_models()), help="which autoencoder")
    train.add_argument("--data", help=".npy, .npz or .csv file, or a folder of images (required, here or in --config)")
    train.add_argument("--out", help="run folder to write model.safetensors into (required, here or in --config)")
    train.add_argument(
        "--config",
        metavar="TOML",
        help="read the flags from a TOML file: one key per flag (batch_size = 64) and a [param] table; flags "
        f"given here override it. Every run folder holds its resolved {run_config.CONFIG_FILE}",
    )
    for name, param in _train_flags().items():
        choices = getattr(param.constraint, "options", None)
        train.add_argument(
            param.cli_flag(name),
            dest=name,
            type=_flag_parser(param),
            choices=choices,
            default=None,  # None: the model's own default (a family may declare another)
            metavar=None if choices else name.upper(),
            help=f"{' '.join(param.doc.split())} (default: {param.default!r}){_flag_notes(name, param)}",
        )
    train.add_argument("--drop", metavar="COL,...", help="table columns to leave out (e.g. an identifier)")
    train.add_argument(
        "--categorical", metavar="COL,...",
        help="table columns to treat as categories besides the inferred ones (strings, booleans), e.g. year",
    )  # fmt: skip
    train.add_argument("--numeric", metavar="COL,...", help="table columns to treat as numbers whatever their type")
    _add_image_flags(train, "(default: the most common size among the files)", "(default: rgb if any file is in colour)")
    train.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    train.add_argument(
        "--param", type=_param, action="append", metavar="KEY=VALUE", help="any other estimator parameter, e.g. beta=4"
    )
    train.add_argument("--quiet", action="store_true", default=None, help="no progress bar")
    train.add_argument(
        "--log",
        metavar="KIND:DIR",
        help="also track the run: tensorboard:DIR (scalars per epoch, a reconstruction grid of images) or "
        "mlflow:DIR (an MLflow folder store, or any tracking URI: params, metrics per epoch, the model file); "
        "several separated by commas",
    )
    train.add_argument(
        "--ddp-timeout",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="under torchrun: how long a rank waits for the others in a collective before the job stops "
        f"with an error naming the cause (default {distributed.DEFAULT_TIMEOUT_SECONDS:g})",
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        default=None,
        help="replace the run already in --out (without it, an --out that holds a run is refused)",
    )
    train.add_argument(
        "--keep-checkpoint",
        action="store_true",
        default=None,
        help="keep checkpoint.safetensors after training, to continue later with --resume --epochs N "
        "(by default it is removed once the model is saved: it holds several copies of the weights)",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        default=None,
        help="continue from the checkpoint in --out (same model, parameters and data; --epochs may grow, for a "
        "finished run if it was trained with --keep-checkpoint). "
        "On CPU the result is bit-identical to an uninterrupted run when both use the same number of "
        "threads (a conv model's sums depend on it)",
    )
    train.set_defaults(func=cmd_train, parser=train)


class _Command(argparse.ArgumentParser):
    """A subcommand's parser whose ``arguments(parser)``, if given, are added when it is first used (parsed,
    or its help or usage shown), so that a command whose flags come from the model registry costs nothing
    to the others: give a new command ``arguments=`` when building its flags needs the estimators."""

    def __init__(self, *args: Any, arguments: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._arguments = arguments

    def complete(self) -> _Command:
        if self._arguments is not None:
            arguments, self._arguments = self._arguments, None
            arguments(self)
        return self

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        return super(_Command, self.complete()).parse_known_args(args, namespace)

    def format_usage(self) -> str:
        return super(_Command, self.complete()).format_usage()

    def format_help(self) -> str:
        return super(_Command, self.complete()).format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aekit",
        description="Representation learning with autoencoders.",
        epilog="Example: aekit tour --out aekit-tour",
    )
    parser.add_argument("--version", action="version", version=f"aekit {aekit.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Command)

    tour = commands.add_parser(
        "tour",
        help="compare PCA and the autoencoder family on data and write a report",
        description="Train PCA and autoencoders side by side and print a comparison.",
        epilog="Example: aekit tour --data ../shared/data/mnist.npz --out tour-mnist",
    )
    tour.add_argument(
        "--data", help="MNIST .npz, any .npy/.npz/.csv, or a folder of images (default: scikit-learn's digits)"
    )
    tour.add_argument(
        "--out", default="aekit-tour", help="output folder for report.html, metrics.json, models/ (default: aekit-tour)"
    )
    tour.add_argument("--quick", action="store_true", help="a much shorter run (for tests and a first look)")
    tour.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help="seconds of training for all models together; epochs are cut to fit and the report says so "
        "(default: the tour's DEFAULT_BUDGET, 240)",
    )
    tour.add_argument(
        "--novel-class",
        metavar="LABEL",
        help="class kept out of training to test anomaly detection (default: the first class; 'none' keeps all)",
    )
    _add_image_flags(tour, "(default: the most common size among the files)", "(default: rgb if any file is in colour)")
    tour.set_defaults(func=cmd_tour)

    report = commands.add_parser(
        "report",
        help="write the tour's HTML report for models trained with `aekit train`",
        description="Compare trained models (and PCA) on their data; write report.html and metrics.json.",
        epilog="Example: aekit report runs/vae runs/ae --data ../shared/data/mnist.npz --out report-mnist",
    )
    report.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="folder(s) written by `aekit train`")
    report.add_argument("--data", help="data to evaluate on (default: the file the first run was trained on)")
    report.add_argument("--out", help="output folder (default: the first RUN_DIR)")
    report.set_defaults(func=cmd_report)

    commands.add_parser(
        "train",
        help="train one model on a data file and save it to a run folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Train a model. uint8 images are scaled to [0,1]; CSV columns are standardized "
            "(the scaling is saved with the model and applied by encode/reconstruct). A checkpoint is "
            "written to the run folder after every epoch; --resume continues from it. Large .npy files are "
            "memory-mapped and read batch by batch. Under `torchrun --nproc_per_node=N -m aekit train ...` "
            "training is data-parallel (--batch-size is the global batch; rank 0 writes the run folder).",
            width=100,
        ),
        arguments=_train_arguments,
    )

    impute = DataCommand("table with every missing cell filled from the model (table runs), as CSV or Parquet", None, False)
    for name, command in {**DATA_COMMANDS, "impute": impute}.items():
        sub = commands.add_parser(
            name,
            help=f"write the {command.what} of DATA with a trained model",
            epilog=f"Example: aekit {name} runs/model data.npy --out {name}.npy"
            if name != "impute" else "Example: aekit impute runs/people people.csv --drop id --out filled.csv",
        )
        sub.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `aekit train`")
        sub.add_argument("data", metavar="DATA", help=".npy, .npz, .csv or .parquet file, or a folder of images")
        sub.add_argument(
            "--out",
            required=True,
            help="output .npy or .csv file (a table's reconstruction: .csv or .parquet; reconstruct and denoise of "
            "images: a folder/ of PNGs, clipped to 0-255 and named as the input files)",
        )
        sub.add_argument("--drop", metavar="COL,...", help="table columns to leave out, as in training")
        _add_image_flags(sub, "(default: as in training)", "(default: as in training)")
        sub.set_defaults(func=cmd_apply)

    detect = commands.add_parser(
        "detect",
        help="flag the outliers of DATA with a trained model (scores, p-values and flags as CSV)",
        description="Score DATA with the run's model and flag rows below a threshold set on the training data "
        "(--contamination: that fraction of it is below) or on rows known to be normal (--fpr with --calibrate: "
        "conformal p-values, at most that fraction of normal rows flagged).",
        epilog="Example: aekit detect runs/ae new.csv --contamination 0.05 --out flags.csv",
    )
    detect.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `aekit train`")
    detect.add_argument("data", metavar="DATA", help="rows to check: .npy, .npz, .csv or .parquet file, or image folder")
    detect.add_argument("--out", required=True, help="output .csv: row, score (higher = more typical), p_value, outlier")
    detect.add_argument(
        "--contamination", type=float, default=0.05, help="fraction of the training data taken as outliers (default 0.05)"
    )
    detect.add_argument("--fpr", type=float, help="instead: flag at this false-positive rate on --calibrate rows")
    detect.add_argument(
        "--calibrate", metavar="FILE", help="data that sets the threshold (default: the run's training data)"
    )
    detect.add_argument("--drop", metavar="COL,...", help="table columns to leave out, as in training")
    _add_image_flags(detect, "(default: as in training)", "(default: as in training)")
    detect.set_defaults(func=cmd_detect)

    sample = commands.add_parser(
        "sample",
        help="write new samples from a trained model (VAE: its prior; others: a density on the codes)",
        epilog="Example: aekit sample runs/vae --n 64 --out samples.npy --seed 0",
    )
    sample.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `aekit train`")
    sample.add_argument("--n", type=int, default=16, help="how many samples (default 16)")
    sample.add_argument("--out", required=True, help="output .npy or .csv file, or a folder/ of PNGs (image models)")
    sample.add_argument("--seed", type=int, default=None, help="random seed (default: fresh randomness)")
    sample.set_defaults(func=cmd_sample)
    _add_export_command(commands)
    _add_cluster_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UserError, ValueError, FileNotFoundError, FolderBusyError) as exc:
        print(f"aekit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, read-only, a file where a folder should be: the path and the cause
        print(f"aekit {args.command}: error: {_os_error_text(exc)}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        from aekit.train import distributed

        failure = distributed.describe_failure(exc)
        if failure is None:
            raise
        print(f"aekit {args.command}: error: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"aekit {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        distributed = sys.modules.get("aekit.train.distributed")
        if distributed is not None:  # only a command that imported it can have joined a process group
            distributed.shutdown()
    return 0


def _os_error_text(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "the output"
    cause = exc.strerror or str(exc)
    advice = {
        errno.ENOSPC: "free some space or write elsewhere",
        errno.EROFS: "write to a writable location",
        errno.EACCES: "write to a folder you may write to",
        errno.EPERM: "write to a folder you may write to",
        errno.ENOTDIR: "a file stands where a folder is needed; choose another path",
        errno.EEXIST: "choose another path",
    }.get(exc.errno, "check the path and the disk")
    return f"{where}: {cause} ({advice}); files aekit wrote there before are unchanged."


if __name__ == "__main__":
    sys.exit(main())
