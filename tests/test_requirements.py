"""requirements-gpu.txt: the GPU install that `make venv GPU=1` offers, checked without a GPU.

No machine that runs these tests has a GPU, so the check is that the pins exist for this platform
and agree with each other: JAX's CUDA plugin at the pinned JAX version, and every CUDA library pin
inside what that plugin's ``with-cuda`` extra asks for (read from the plugin's own metadata).
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

from conftest import missing

REPO = Path(__file__).resolve().parents[1]


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-r"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{path.name}: {line!r} is not pinned with =="
        out[req.name.lower().replace("_", "-")] = spec.version
    return out


def test_gpu_requirements_extend_the_cpu_pins_consistently(tmp_path):
    cpu, gpu = pins(REPO / "requirements.txt"), pins(REPO / "requirements-gpu.txt")
    assert (REPO / "requirements-gpu.txt").read_text().count("-r requirements.txt") == 1
    assert not set(cpu) & set(gpu), "requirements-gpu.txt must add packages, not re-pin them"
    assert gpu["jax-cuda12-plugin"] == gpu["jax-cuda12-pjrt"] == cpu["jax"] == cpu["jaxlib"]

    got = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                          "--only-binary=:all:", "--dest", str(tmp_path),
                          f"jax-cuda12-plugin=={gpu['jax-cuda12-plugin']}"],
                         capture_output=True, text=True)
    wheels = list(tmp_path.glob("jax_cuda12_plugin-*.whl"))
    if got.returncode or not wheels:
        missing(f"could not download jax-cuda12-plugin from the package index: {got.stderr[-500:]}")
    with zipfile.ZipFile(wheels[0]) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    wanted = [Requirement(line.split(":", 1)[1].strip()) for line in meta.splitlines()
              if line.startswith("Requires-Dist:") and re.search(r"extra\s*==\s*['\"]with-cuda['\"]", line)]
    assert wanted, "the plugin declares no with-cuda extra"
    for req in wanted:
        name = req.name.lower().replace("_", "-")
        if req.marker is not None and not req.marker.evaluate({"extra": "with-cuda"}):
            continue  # e.g. another platform
        assert name in gpu, f"requirements-gpu.txt lacks {req} (asked for by the plugin's with-cuda extra)"
        assert req.specifier.contains(gpu[name], prereleases=True), (
            f"{name}=={gpu[name]} is outside the plugin's {req.specifier}")
