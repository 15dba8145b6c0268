"""gvutil: the reusable half of the GAN & VAE book.

Chapters teach an idea in their own cells; once taught, the code lives here and later
chapters import it. Importing :mod:`gvutil` does not import Keras or TensorFlow, so the
environment variables that quiet TensorFlow's logs can still be set first (see
:func:`quiet_tensorflow`).
"""

from __future__ import annotations

import os
import random
import sys

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "in_colab",
    "quiet_tensorflow",
    "seed_everything",
    "versions",
]


def in_colab() -> bool:
    """Return True when running inside Google Colab."""
    return "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG") is not None


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ logs below ERROR (``TF_CPP_MIN_LOG_LEVEL=2``).

    It only takes effect when set before TensorFlow is first imported. Two start-up lines
    (absl's "All log messages before absl::InitializeLog()" and oneDNN's "custom operations
    are on") bypass that level; they go to the process's stderr, which ``make execute``
    keeps out of stored notebook outputs (``capture_fd_output=False``) and which nbval does
    not capture, so they never reach a stored output (``tests/test_notebooks.py`` checks).
    oneDNN itself stays on: it trains this book's models up to 1.6x faster on a CPU.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


quiet_tensorflow()


def seed_everything(seed: int = 0, deterministic: bool = True) -> None:
    """Seed Python, NumPy and Keras; make TensorFlow ops deterministic.

    Args:
        seed: the seed for every generator.
        deterministic: on the TensorFlow backend with a GPU, also call
            ``tf.config.experimental.enable_op_determinism()`` (some GPU kernels, e.g.
            atomics in reductions, otherwise vary from run to run). On a CPU it is not called:
            TensorFlow's CPU kernels and XLA's CPU code give bit-identical reruns without it
            (``tests/test_core.py`` checks a GAN trained twice with XLA), and Keras switches XLA
            off while it is on, which would cost the MLP GANs a factor 1.27 (see
            ``gvutil.config.compile_defaults``). JAX is deterministic on a CPU by construction.
    """
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import keras

    # Keras has no public API for these two global attributes, hence the private import.
    from keras.src.backend.common import global_state

    backend = keras.backend.backend()
    if backend == "tensorflow":
        # Seeds Python, NumPy and TF; Keras >= 3.9 also drops its global SeedGenerator, which
        # Keras 3.8 keeps: drop it here too, so that it is re-created from the new seed.
        keras.utils.set_random_seed(seed)
        global_state.set_global_attribute("global_seed_generator", None)
        if deterministic:
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                tf.config.experimental.enable_op_determinism()
    else:
        # keras.utils.set_random_seed would import TensorFlow even on JAX; do what it does
        # for Keras by hand: record the seed and drop the global SeedGenerator, which is
        # re-created from Python's (now seeded) `random` on first use.
        global_state.set_global_attribute("global_random_seed", seed)
        global_state.set_global_attribute("global_seed_generator", None)


def versions() -> dict[str, str]:
    """Versions of Python and the libraries the book depends on, plus the Keras backend."""
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for name in ("keras", "tensorflow", "jax", "numpy", "matplotlib"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            if name == "tensorflow":
                try:
                    out[name] = md.version("tensorflow-cpu")
                    continue
                except md.PackageNotFoundError:
                    pass
            out[name] = "not installed"
    out["gvutil"] = __version__
    import keras

    out["backend"] = keras.backend.backend()
    return out
