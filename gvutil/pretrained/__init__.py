"""Trained weights for chapter 4: the models of the full profile, with the record of their run.

The chapters train small models live (the CPU profile). What the same code reaches when it
trains for longer (the full profile) is kept here, so that a reader of the website sees it too:

>>> gan = pretrained.load("mlp_gan")            # the GAN of section 4.2 (04_gan_recipe), trained 30,000 steps
>>> record = pretrained.record("mlp_gan")       # command, machine, versions, wall time, ...

Each checkpoint is the model's weights rounded to float16 (``<name>.weights.npz``, a few MB) and
an entry of ``RECORD.json``: the builder and its arguments, the SHA-256 of the file, and how it
was made. :func:`load` rebuilds the model with the builder, checks the SHA-256 and sets the
weights; a file that does not match its record is never used. ``make converged`` runs the
chapters with the full profile and ``GVUTIL_EXPORT=1``, which makes their :func:`export` calls
write new checkpoints; ``RECORD.md`` is the same record for people.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
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

__all__ = ["DIR", "available", "record", "load", "machine", "save_weights", "exporting", "export",
           "CheckpointError"]

DIR = Path(__file__).resolve().parent
RECORD_JSON = DIR / "RECORD.json"
RECORD_MD = DIR / "RECORD.md"
_BUILDERS = ("make_gan", "make_vae")
# What each kind of model needs to draw or score images; optimizer states are not kept.
_PARTS = {"make_gan": ("generator",), "make_vae": ("encoder", "decoder")}


class CheckpointError(ChecksumError):
    """A checkpoint file is missing or does not match its record."""


def _records() -> dict:
    if not RECORD_JSON.exists():
        return {}
    return json.loads(RECORD_JSON.read_text())


def available() -> list[str]:
    """Names of the checkpoints that have a record."""
    return sorted(_records())


def record(name: str) -> dict:
    """The record of checkpoint ``name``: builder, arguments, SHA-256, command, machine, times."""
    records = _records()
    if name not in records:
        raise KeyError(f"no checkpoint named {name!r}; available: {sorted(records)}")
    return records[name]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _build(rec: dict):
    from gvutil import models

    if rec["builder"] not in _BUILDERS:
        raise CheckpointError(f"unknown builder {rec['builder']!r} in the record")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in rec["kwargs"].items()}
    return getattr(models, rec["builder"])(**kwargs)


def load(name: str) -> GAN | VAE:
    """The model of checkpoint ``name``, compiled, with its trained weights (float16-rounded).

    Raises:
        KeyError: no such checkpoint.
        CheckpointError: the weights file is missing or its SHA-256 differs from the record.
    """
    rec = record(name)
    path = DIR / rec["file"]
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} is missing; reinstall gvutil or run `make converged`")
    digest = _sha256(path)
    if digest != rec["sha256"]:
        raise CheckpointError(f"{path} has SHA-256 {digest}, but its record says {rec['sha256']}: "
                              "the file is corrupted or was replaced; reinstall gvutil or retrain")
    model = _build(rec)
    with np.load(path) as arrays:
        for part in _PARTS[rec["builder"]]:
            net = getattr(model, part)
            values = [arrays[f"{part}/{i}"] for i in range(len(net.weights))]
            net.set_weights([v.astype(w.dtype) for v, w in zip(values, net.weights)])
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


def exporting() -> bool:
    """True when ``GVUTIL_EXPORT=1`` asks the chapters to write their full-profile checkpoints."""
    return os.environ.get("GVUTIL_EXPORT", "").strip() == "1"


def export(model: keras.Model, name: str, builder: str, kwargs: dict, *, train_seconds: float, steps: int,
           epochs: float, evaluation: dict | None = None, command: str = "make converged",
           note: str = "") -> dict:
    """Write ``model``'s weights (float16) as checkpoint ``name`` and record how it was made.

    Args:
        builder, kwargs: the ``gvutil.models`` builder and arguments that rebuild the model.
        train_seconds, steps, epochs: what the training run cost.
        evaluation: numbers measured on the trained model (before rounding), if any.
        note: free text for the record (default: ``$GVUTIL_EXPORT_NOTE``, e.g. what else the
            machine was running, which makes the times longer).
    """
    import gvutil

    if builder not in _BUILDERS:
        raise ValueError(f"builder must be one of {_BUILDERS}; received {builder!r}")
    path = DIR / f"{name}.weights.npz"
    save_weights(model, _PARTS[builder], path)
    records = _records()
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
    RECORD_JSON.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    RECORD_MD.write_text(_markdown(records))
    return records[name]


def _markdown(records: dict) -> str:
    lines = ["# Checkpoints of chapter 4: training records", "",
             "Written by `gvutil.pretrained.export` (run by `make converged`); do not edit by hand.",
             "`gvutil.pretrained.load(name)` checks each file against the SHA-256 below.", ""]
    for name, r in sorted(records.items()):
        v = r["versions"]
        lines += [f"## `{name}`", "",
                  "| | |", "|---|---|",
                  f"| model | `gvutil.models.{r['builder']}(**{r['kwargs']})` |",
                  f"| file | `{r['file']}` ({r['bytes']:,} bytes, weights rounded to float16) |",
                  f"| SHA-256 | `{r['sha256']}` |",
                  f"| command | `{r['command']}` (profile `{r['profile']}`) |",
                  f"| training | {r['steps']:,} steps, {r['epochs']} epochs, {r['train_seconds']:.0f} s "
                  f"({r['seconds_per_epoch']:.1f} s per epoch) |",
                  f"| date | {r['date']} |",
                  f"| machine | {r['machine']} |",
                  f"| versions | Python {v.get('python')}, Keras {v.get('keras')} on {v.get('backend')}, "
                  f"TensorFlow {v.get('tensorflow')}, JAX {v.get('jax')}, NumPy {v.get('numpy')} |"]
        for key, value in r.get("evaluation", {}).items():
            lines.append(f"| {key} | {value} |")
        if r.get("note"):
            lines.append(f"| note | {r['note']} |")
        lines.append("")
    return "\n".join(lines)
