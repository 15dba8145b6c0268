"""Which machine made a notebook's stored outputs, and does this one compute the same last bits?

TensorFlow's oneDNN kernels, XLA's CPU code and NumPy's SIMD loops pick their instructions (and
their blocking, and so their order of additions) by the processor's instruction set, its cache sizes
and the number of threads, so float results differ in the last bits from one CPU to another, and a
GAN's training turns a last-bit difference into another run. ``make execute`` therefore records the
machine that ran a notebook in the notebook's metadata::

    python tests/machine.py stamp book/04_gan_recipe.ipynb

and nbval (through ``tests/nbval_tolerance.py``) compares a notebook's outputs exactly when the
machine running the check has the same fingerprint, and with the tolerances of
``tests/tolerances.toml`` when it has another.

The fingerprint holds what decides the last bits: the processor (vendor, family, model, model name,
the vector instruction sets its kernels dispatch on), how many CPUs the process may use (threads),
the environment variables that change kernel choice (e.g. ``ONEDNN_MAX_CPU_ISA``,
``TF_ENABLE_ONEDNN_OPTS``, ``XLA_FLAGS``) and the versions of the numerical libraries. Nothing that
varies between two runs on one machine (dates, host names, the kernel's mitigation flags) is in it.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

# The vector instruction sets that oneDNN, XLA (LLVM) and NumPy dispatch on, as /proc/cpuinfo
# names them. Other flags (mitigations, "hypervisor", ...) change with the host's kernel, not the math.
ISA_FLAGS = (
    "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni",
    "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512ifma", "avx512vbmi",
    "avx512_vbmi2", "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq", "avx512_bf16",
    "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "gfni", "vaes", "vpclmulqdq",
)
# Environment variables that change which kernels run, or how many threads split a sum.
ENV_VARS = (
    "KERAS_BACKEND", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS",
    "NPY_DISABLE_CPU_FEATURES", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    "GVUTIL_PROFILE",
)
# The libraries whose kernels compute the stored numbers (installed distribution names).
PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "jax", "jaxlib", "numpy", "scipy",
            "matplotlib", "ml-dtypes")
METADATA_KEY = "gvutil"  # notebook.metadata["gvutil"]["machine"]


def _cpuinfo(path: str = "/proc/cpuinfo") -> dict:
    """The first processor's fields of /proc/cpuinfo ({} where there is none, e.g. macOS)."""
    info = {}
    try:
        text = Path(path).read_text()
    except OSError:
        return info
    for line in text.split("\n\n")[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def fingerprint(environ: dict | None = None) -> dict:
    """What decides the last bits of this machine's results, as plain JSON-able values."""
    environ = os.environ if environ is None else environ
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count()
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpu": {
            "vendor": info.get("vendor_id", platform.processor() or "unknown"),
            "family": info.get("cpu family", ""),
            "model": info.get("model", ""),
            "model_name": info.get("model name", platform.machine()),
            "isa": [f for f in ISA_FLAGS if f in flags],
            "cpus": cpus,
        },
        "os": f"{platform.system()} {platform.machine()}",
        "env": {k: environ[k] for k in ENV_VARS if k in environ},
        "versions": versions,
    }


def differences(stored: dict | None, current: dict) -> list[str]:
    """What differs between two fingerprints, one readable line per field ([] if they agree)."""
    if not stored:
        return ["no machine recorded for the stored run"]
    out = []
    for section in ("cpu", "os", "env", "versions"):
        a, b = stored.get(section), current.get(section)
        if isinstance(a, dict) or isinstance(b, dict):
            a, b = a or {}, b or {}
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    out.append(f"{section}.{key}: stored {_show(a.get(key))}, here {_show(b.get(key))}")
        elif a != b:
            out.append(f"{section}: stored {_show(a)}, here {_show(b)}")
    return out


def _show(value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list):
        return "[" + " ".join(map(str, value)) + "]"
    return str(value)


def describe(fp: dict) -> str:
    """One line: processor, instruction set, CPUs and the settings that change kernels."""
    cpu = fp.get("cpu", {})
    top = [f for f in ("avx512_fp16", "amx_bf16", "avx512_bf16", "avx512f", "avx2", "avx")
           if f in cpu.get("isa", [])]
    env = ", ".join(f"{k}={v}" for k, v in fp.get("env", {}).items() if k != "KERAS_BACKEND")
    return (f"{cpu.get('model_name', '?')} ({cpu.get('vendor', '?')}, best ISA "
            f"{top[0] if top else 'none'}, {cpu.get('cpus', '?')} CPUs)"
            + (f", {env}" if env else ""))


def stored_fingerprint(nb) -> dict | None:
    """The fingerprint ``stamp`` recorded in a notebook (an nbformat node or a dict), or None."""
    return (nb.get("metadata", {}).get(METADATA_KEY) or {}).get("machine")


def stamp(path: str | Path, environ: dict | None = None) -> dict:
    """Record this machine's fingerprint in a notebook file's metadata; return it."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    fp = fingerprint(environ)
    nb.metadata[METADATA_KEY] = {
        "machine": fp,
        "executed": datetime.date.today().isoformat(),
        "note": "the machine whose kernels made the stored outputs (tests/machine.py); nbval "
                "compares them exactly on a machine with this fingerprint, with "
                "tests/tolerances.toml elsewhere",
    }
    nbformat.write(nb, str(path))
    return fp


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "stamp":
        for path in argv[1:]:
            fp = stamp(path)
            print(f"{path}: executed on {describe(fp)}")
        return 0
    if argv == ["show"]:
        import json

        print(json.dumps(fingerprint(), indent=1))
        return 0
    print("usage: python tests/machine.py stamp NOTEBOOK... | show", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
