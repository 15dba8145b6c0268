"""Trained weights: chapter 4's models of the full profile and chapter 5's longest GAN runs, with the
record of each run.

The chapters train small models live (the CPU profile). What the same code reaches when it
trains for longer (the full profile) is kept here, so that a reader of the website sees it too:

>>> gan = pretrained.load("mlp_gan")            # the GAN of section 4.2 (04_gan_recipe), trained 30,000 steps
>>> record = pretrained.record("mlp_gan")       # command, machine, versions, wall time, ...

Each checkpoint is the model's weights rounded to float16 (``<name>.weights.npz``, a few MB) and
an entry of ``RECORD.json``: the builder and its arguments, the SHA-256 of the file, and how it
was made. :func:`load` rebuilds the model with the builder, checks the SHA-256 and sets the
weights; a file that does not match its record is never used. ``RECORD.md`` is the same record
for people. ``make converged`` runs the chapters with the full profile and exports (:func:`export`) their
models into a folder of its own (``_build/converged/checkpoints``), never into this package; only
``make install-checkpoints`` (:func:`install`, which checks every file against its record first)
replaces the shipped checkpoints.

Chapter 5's checkpoints (``averaged_gan``, ``conditional_gan`` builders) come from
``benchmarks/gan_checkpoints.py``, which trains 30,000 steps, keeps the moving average of the
generator's weights every few thousand steps and picks one on held-out *training* images; they keep
only that average, which :func:`load` puts into both ``averaged`` and ``generator``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gvutil.data import ChecksumError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from os import PathLike

    import keras

    from gvutil.models import GAN, VAE

__all__ = ["DIR", "available", "record", "load", "build", "averaged_gan", "conditional_gan", "machine",
           "save_weights", "export", "install",
           "CheckpointError"]

DIR = Path(__file__).resolve().parent
RECORD_JSON = DIR / "RECORD.json"
RECORD_MD = DIR / "RECORD.md"
# What each kind of model needs to draw or score images; optimizer states are not kept. The models of
# chapter 5 keep only the moving average of their generator's weights (what they sample from).
_PARTS = {"make_gan": ("generator",), "make_vae": ("encoder", "decoder"),
          "averaged_gan": ("averaged",), "conditional_gan": ("averaged",)}
_BUILDERS = tuple(_PARTS)


class CheckpointError(ChecksumError):
    """A checkpoint file is missing or does not match its record."""


def _records(directory: Path | None = None) -> dict:
    path = RECORD_JSON if directory is None else Path(directory) / RECORD_JSON.name
    return json.loads(path.read_text()) if path.exists() else {}


def _write_records(directory: Path, records: dict) -> None:
    (directory / RECORD_JSON.name).write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    (directory / RECORD_MD.name).write_text(_markdown(records))


def available(directory: str | PathLike[str] | None = None) -> list[str]:
    """Names of the checkpoints that have a record (in the package, or in ``directory``)."""
    return sorted(_records(directory))


def record(name: str, directory: str | PathLike[str] | None = None) -> dict:
    """The record of checkpoint ``name``: builder, arguments, SHA-256, command, machine, times."""
    records = _records(directory)
    if name not in records:
        raise KeyError(f"no checkpoint named {name!r}; available: {sorted(records)}")
    return records[name]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def averaged_gan(latent_dim: int = 100, hidden=(256, 512, 1024), ema_decay: float = 0.999,
                 learning_rate: float = 1e-3, seed: int | None = None):
    """Section 5.2's ``AveragedGAN`` on chapter 4.2's recipe networks (MLP generator ``hidden`` with
    batch norm and tanh, the discriminator mirrored), compiled with Adam(``learning_rate``, 0.5)."""
    import keras

    from gvutil.config import compile_defaults
    from gvutil.models.gan import mlp_discriminator, mlp_generator
    from gvutil.models.stable import AveragedGAN

    hidden = tuple(hidden)
    gan = AveragedGAN(mlp_generator(latent_dim, hidden, "tanh", batchnorm=True),
                      mlp_discriminator(tuple(reversed(hidden))), latent_dim, ema_decay=ema_decay, seed=seed)
    gan.compile(keras.optimizers.Adam(learning_rate, beta_1=0.5), keras.optimizers.Adam(learning_rate, beta_1=0.5),
                **compile_defaults(True))
    return gan


def conditional_gan(latent_dim: int = 100, hidden=(256, 512, 1024), ema_decay: float = 0.999,
                    learning_rate: float = 1e-3, seed: int | None = None):
    """Section 5.3's ``ConditionalGAN``: the recipe's generator on noise and a one-hot digit, its
    discriminator with a projection of the digit; compiled as :func:`averaged_gan`."""
    import keras

    from gvutil.config import compile_defaults
    from gvutil.models.conditional import ConditionalGAN, conditional_mlp_generator, projection_discriminator

    hidden = tuple(hidden)
    gan = ConditionalGAN(conditional_mlp_generator(latent_dim, hidden),
                         projection_discriminator(tuple(reversed(hidden))), latent_dim, ema_decay=ema_decay, seed=seed)
    gan.compile(keras.optimizers.Adam(learning_rate, beta_1=0.5), keras.optimizers.Adam(learning_rate, beta_1=0.5),
                **compile_defaults(True))
    return gan


def build(builder: str, kwargs: dict):
    """A fresh, compiled model from a record's ``builder`` and ``kwargs``: ``make_gan``/``make_vae``
    of ``gvutil.models``, or :func:`averaged_gan`/:func:`conditional_gan` of this module."""
    from gvutil import models

    if builder not in _BUILDERS:
        raise CheckpointError(f"unknown builder {builder!r}; expected one of {_BUILDERS}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    make = getattr(models, builder) if builder.startswith("make_") else globals()[builder]
    return make(**kwargs)


def _checked_file(name: str, rec: dict, directory: Path) -> Path:
    path = directory / rec["file"]
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} is missing; reinstall gvutil or run `make converged`")
    digest = _sha256(path)
    if digest != rec["sha256"]:
        raise CheckpointError(f"{path} has SHA-256 {digest}, but the record of {name!r} says "
                              f"{rec['sha256']}: the file is corrupted or was replaced; reinstall or retrain")
    return path


def load(name: str, directory: str | PathLike[str] | None = None) -> GAN | VAE:
    """The model of checkpoint ``name``, compiled, with its trained weights (float16-rounded), from
    the package or from ``directory`` (e.g. where ``make converged`` wrote new ones).

    Raises:
        KeyError: no such checkpoint.
        CheckpointError: the weights file is missing or its SHA-256 differs from the record.
    """
    rec = record(name, directory)
    path = _checked_file(name, rec, DIR if directory is None else Path(directory))
    model = build(rec["builder"], rec["kwargs"])
    with np.load(path) as arrays:
        for part in _PARTS[rec["builder"]]:
            net = getattr(model, part)
            values = [arrays[f"{part}/{i}"] for i in range(len(net.weights))]
            net.set_weights([v.astype(w.dtype) for v, w in zip(values, net.weights)])
    if _PARTS[rec["builder"]] == ("averaged",):  # the last weights are not kept: the generator gets the average
        model.generator.set_weights(model.averaged.get_weights())
    return model


def machine() -> str:
    """This machine for a record: OS, CPU count and, when Keras computes on one, the accelerator."""
    text = f"{platform.platform()}, {os.cpu_count()} CPUs"
    from gvutil import config

    if config.accelerator() != "cpu":
        import keras

        name = "unknown model"
        if keras.backend.backend() == "jax":
            import jax

            name = jax.devices()[0].device_kind
        elif keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", name)
        text += f", {config.accelerator().upper()} {name}"
    return text


def save_weights(model: keras.Model, parts: Iterable[str], path: str | PathLike[str]) -> None:
    """The weights of ``model``'s sub-models ``parts`` (e.g. ``("generator",)``) rounded to float16,
    as ``<part>/<i>`` arrays in a compressed ``.npz``: the file format :func:`load` reads."""
    arrays = {f"{part}/{i}": np.asarray(w, "float32").astype("float16")
              for part in parts for i, w in enumerate(getattr(model, part).get_weights())}
    np.savez_compressed(path, **arrays)


def export(model: keras.Model, name: str, builder: str, kwargs: dict, *, directory: str | PathLike[str],
           train_seconds: float, steps: int, epochs: float, evaluation: dict | None = None,
           command: str = "make converged", note: str = "") -> dict:
    """Write ``model``'s weights (float16) as checkpoint ``name`` into ``directory``, with the record
    of how it was made (``RECORD.json``/``RECORD.md`` there, other records kept).

    Args:
        directory: where to write; never the package's own folder (see :func:`install`).
        builder, kwargs: the ``gvutil.models`` builder and arguments that rebuild the model.
        train_seconds, steps, epochs: what the training run cost.
        evaluation: numbers measured on the trained model (before rounding), if any.
        note: free text for the record (default: ``$GVUTIL_EXPORT_NOTE``, e.g. what else the
            machine was running, which makes the times longer).
    """
    import gvutil

    if builder not in _BUILDERS:
        raise ValueError(f"builder must be one of {_BUILDERS}; received {builder!r}")
    directory = Path(directory)
    if directory.resolve() == DIR.resolve():
        raise ValueError(f"export writes checkpoints outside the package, not into {DIR}: the shipped "
                         "ones are replaced only by install() (`make install-checkpoints`)")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.weights.npz"
    save_weights(model, _PARTS[builder], path)
    records = _records(directory)
    records[name] = {
        "builder": builder,
        "kwargs": kwargs,
        "file": path.name,
        "sha256": _sha256(path),
        "bytes": path.stat().st_size,
        "command": command,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "versions": gvutil.versions(),
        "profile": os.environ.get("GVUTIL_PROFILE", ""),
        "steps": int(steps),
        "epochs": round(float(epochs), 2),
        "train_seconds": round(float(train_seconds), 1),
        "seconds_per_epoch": round(float(train_seconds) / float(epochs), 2),
        "evaluation": evaluation or {},
        "note": note or os.environ.get("GVUTIL_EXPORT_NOTE", ""),
    }
    _write_records(directory, records)
    return records[name]


def install(directory: str | PathLike[str], names: Iterable[str] | None = None) -> list[str]:
    """Replace the package's checkpoints ``names`` (default: all in ``directory``) by those that
    ``make converged`` wrote into ``directory``: the one step that writes into the package.

    Every file is checked against its record (SHA-256) before anything is copied; a checkpoint that
    fails the check leaves the package untouched. Returns the names installed.
    """
    source = Path(directory)
    records = _records(source)
    names = sorted(records) if names is None else list(names)
    files = {name: _checked_file(name, record(name, source), source) for name in names}
    shipped = _records()
    for name, path in files.items():
        shutil.copyfile(path, DIR / path.name)
        shipped[name] = records[name]
    _write_records(DIR, shipped)
    return names


def _cell(value) -> str:
    """A number or a list of shares for a Markdown table: lists as their range."""
    if isinstance(value, list):
        return f"{min(value):.3f}-{max(value):.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _card_text(card: dict) -> str:
    return ", ".join(f"{k} {_cell(v)}" for k, v in card.items())


def _markdown(records: dict) -> str:
    lines = ["# Checkpoints: training records", "",
             "Written by `gvutil.pretrained.export` (run by `make converged`); do not edit by hand.",
             "`gvutil.pretrained.load(name)` checks each file against the SHA-256 below.", ""]
    for name, r in sorted(records.items()):
        v = r["versions"]
        lines += [f"## `{name}`", "",
                  "| | |", "|---|---|",
                  f"| model | `gvutil.{'models' if r['builder'].startswith('make_') else 'pretrained'}."
                  f"{r['builder']}(**{r['kwargs']})` |",
                  f"| file | `{r['file']}` ({r['bytes']:,} bytes, weights rounded to float16) |",
                  f"| SHA-256 | `{r['sha256']}` |",
                  f"| command | `{r['command']}` (profile `{r['profile']}`) |",
                  f"| training | {r['steps']:,} steps, {r['epochs']} epochs, {r['train_seconds']:.0f} s "
                  f"({r['seconds_per_epoch']:.1f} s per epoch) |",
                  f"| date | {r['date']} |",
                  f"| machine | {r['machine']} |",
                  f"| versions | Python {v.get('python')}, Keras {v.get('keras')} on {v.get('backend')}, "
                  f"TensorFlow {v.get('tensorflow')}, JAX {v.get('jax')}, NumPy {v.get('numpy')} |"]
        tables = {k: v for k, v in r.get("evaluation", {}).items() if isinstance(v, list)}
        for key, value in r.get("evaluation", {}).items():
            if key not in tables:
                lines.append(f"| {key} | {_card_text(value) if isinstance(value, dict) else value} |")
        if r.get("note"):
            lines.append(f"| note | {r['note']} |")
        lines.append("")
        for key, rows in tables.items():
            lines += [f"{key}:", "", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
            lines += ["| " + " | ".join(_cell(v) for v in row.values()) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)
