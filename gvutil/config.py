"""Where the book runs: the device, the run profile, numeric precision, compile settings and
data parallelism.

``gvutil.train`` re-exports these (chapters write ``train.pick(cpu=..., full=...)``); the model
builders in ``gvutil.models`` take their compile settings from here, so models never import the
training helpers.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

import keras

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["PROFILES", "TINY_DIVISOR", "accelerator", "profile", "pick", "set_precision",
           "compile_defaults", "split_cpu", "data_parallel"]

PROFILES = ("cpu", "full", "tiny")
# The "tiny" profile runs the full profile's code (its branches, its settings) with every integer
# that `pick` returns divided by this, so that a test on a CPU executes what a GPU user runs.
TINY_DIVISOR = 1000


def accelerator() -> str:
    """"gpu", "tpu" or "cpu": the kind of device the current Keras backend computes on."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        platform = jax.default_backend()
        return "gpu" if platform in ("gpu", "cuda", "rocm") else ("tpu" if platform == "tpu" else "cpu")
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("TPU"):
            return "tpu"
        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return "cpu"


def profile() -> str:
    """The run profile: ``$GVUTIL_PROFILE`` if set, else "full" on a GPU/TPU and "cpu" elsewhere.

    "cpu" is what CI and the website run (few epochs); "full" is the same code trained longer;
    "tiny" is the full profile's code at sizes divided by ``TINY_DIVISOR`` (see :func:`pick`), for
    tests that must execute, on a CPU, every line a GPU user runs.
    """
    value = os.environ.get("GVUTIL_PROFILE", "").strip().lower()
    if value:
        if value not in PROFILES:
            raise ValueError(f"GVUTIL_PROFILE must be one of {PROFILES}; received {value!r}")
        return value
    return "cpu" if accelerator() == "cpu" else "full"


def _shrink(value):
    if isinstance(value, tuple):
        return tuple(_shrink(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(1, value // TINY_DIVISOR)
    return value


def pick(cpu: T, full: T) -> T:
    """``cpu`` under the "cpu" profile, ``full`` under "full" (e.g. ``epochs=pick(cpu=2, full=50)``).

    Under "tiny" it is ``full`` with each integer (also inside a tuple) divided by
    ``TINY_DIVISOR``, at least 1; other values (learning rates, strings) are ``full`` unchanged.
    """
    mode = profile()
    if mode == "cpu":
        return cpu
    return _shrink(full) if mode == "tiny" else full


def _gpu_compute_capability():
    """(major, minor) of the first GPU, or None when unknown."""
    try:
        if keras.backend.backend() == "jax":
            import jax

            cc = getattr(jax.devices()[0], "compute_capability", None)
            return tuple(int(p) for p in str(cc).split(".")[:2]) if cc else None
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            gpu = tf.config.list_physical_devices("GPU")[0]
            return tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability"))
    except Exception:  # pragma: no cover - best effort on unusual devices
        return None
    return None


def set_precision(precision: str = "auto") -> str:
    """Set Keras' global dtype policy before building models; returns the policy name.

    "auto": ``mixed_bfloat16`` on a TPU or a GPU with bfloat16 tensor cores (compute
    capability >= 8, e.g. A100/H100/L4), else ``float32`` (a CPU: exact and deterministic; an older
    GPU such as Colab's T4, which has no fast bfloat16, and whose float16 would need loss scaling,
    a path the book's models do not carry). Any Keras policy name is accepted as is.
    """
    if precision == "auto":
        device = accelerator()
        if device == "tpu":
            precision = "mixed_bfloat16"
        elif device == "gpu":
            cc = _gpu_compute_capability()
            precision = "float32" if cc is not None and cc < (8, 0) else "mixed_bfloat16"
        else:
            precision = "float32"
    keras.config.set_dtype_policy(precision)
    return keras.config.dtype_policy().name


def compile_defaults(xla_on_cpu: bool = False) -> dict:
    """Compile settings the builders use.

    XLA where Keras enables it (``jit_compile="auto"``: on for JAX, and for TensorFlow on a
    GPU); 8 steps per ``fit`` dispatch on a JAX accelerator (fewer Python callbacks between
    jitted steps). Measured on this project's CPU, TensorFlow ran slower with
    ``steps_per_execution=8`` (15k vs 25k images/s, MLP VAE), so it stays 1 there and on CPUs.

    Args:
        xla_on_cpu: also compile with XLA on a CPU under TensorFlow. ``make_gan("mlp")`` asks
            for it for GANs of a million weights or more (compiling costs a few seconds): on the book's 2-core CPU XLA trains the MLP GANs 1.26-1.37x faster, while it
            slows the DCGAN (0.87x) and the conv VAE (0.59x); the MLP VAE gained 1.18x in the
            recorded run but keeps Keras' default, which its chapter's stored numbers were made with
            (``benchmarks/xla_cpu.py``, results in ``benchmarks/README.md``). Keras turns XLA off again,
            with a warning, while TensorFlow's op determinism is enabled (``seed_everything`` enables
            it only on a GPU).
    """
    backend = keras.backend.backend()
    many = backend == "jax" and accelerator() != "cpu"
    xla = True if xla_on_cpu and backend == "tensorflow" and accelerator() == "cpu" else "auto"
    return {"jit_compile": xla, "steps_per_execution": 8 if many else 1}


# --------------------------------------------------------------------------- data parallelism
def _jax_only(what):
    if keras.backend.backend() != "jax":
        raise NotImplementedError(
            f"{what} uses keras.distribution, which Keras implements on the JAX backend; "
            f"set KERAS_BACKEND=jax (this is the {keras.backend.backend()} backend)")


def split_cpu(n: int = 2) -> int:
    """Expose the host CPU as ``n`` JAX devices, to try data parallelism without GPUs.

    Must run before JAX starts computing (in a fresh process, before any model is built).
    Returns the number of CPU devices now visible.
    """
    _jax_only("split_cpu")
    import jax

    flag = f"--xla_force_host_platform_device_count={n}"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except Exception:  # older JAX reads XLA_FLAGS only; newer one refuses after start-up
        pass
    count = len(jax.devices("cpu"))
    if count != n:
        raise RuntimeError(f"asked for {n} CPU devices but {count} are visible; call split_cpu() "
                           "before the backend starts (fresh process, before building models)")
    return count


@contextlib.contextmanager
def data_parallel(devices: Sequence[str] | None = None) -> Iterator[Any]:
    """Context for data-parallel training on JAX: build, compile and ``fit`` inside it.

    Keras' own ``keras.distribution.DataParallel``: the model is replicated on every device and
    each batch is split between them; the models need no line of their own for it. ``devices``
    defaults to all accelerators (or all CPU devices if there is none). The batch size must be a
    multiple of the number of devices. Yields the distribution.
    """
    _jax_only("data_parallel")
    distribution = keras.distribution.DataParallel(devices=devices or keras.distribution.list_devices())
    with distribution.scope():
        yield distribution
