"""The full profile's code on a CPU: chapter 4 executed top to bottom with ``GVUTIL_PROFILE=tiny``.

A reader with a GPU (Colab) gets the full profile: every ``train.pick(cpu=..., full=...)`` takes its
``full`` value and every ``if train.profile() == "cpu"`` its other branch, code that the stored
CPU-profile outputs never execute. The "tiny" profile runs exactly that code with every integer of
``pick`` divided by 1,000 (30,000 steps -> 30, 100 epochs -> 1), so this test fails on any error a GPU
user would hit. It runs on the TensorFlow backend, Colab's default; the full profile on JAX ran on a
GPU (benchmarks/README.md, "GPU run").
"""

from pathlib import Path

import converged
import keras
import pytest

from gvutil import pretrained

REPO = Path(__file__).resolve().parents[1]
PAGES = ["04_gan_code", "04_gan_recipe", "04_vae_code", "04_vae_latent2d"]


def outputs_text(nb):
    parts = []
    for cell in nb.cells:
        for out in cell.outputs if cell.cell_type == "code" else []:
            parts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="run once, on Colab's default backend (make unit-tf)")
@pytest.mark.parametrize("page", PAGES)
def test_chapter_4_runs_the_full_profile_at_tiny_sizes(page, tmp_path):
    """Executed as `make converged` executes it (tests/converged.py), export cells included, whose
    checkpoints must then load; the package's own checkpoints are never touched."""
    nb = converged.run(page, tmp_path, profile="tiny", timeout=600)  # raises on any cell's error
    text = outputs_text(nb)
    assert "tiny" in text, "the page should print the profile it ran with"
    if page in ("04_gan_code", "04_gan_recipe"):
        assert "trained 30 steps" in text  # 30,000 steps of the full profile / 1,000
    if page == "04_gan_recipe":
        assert "no DCGAN is trained" not in text and text.count("trained 30 steps") == 2
    exported = {"04_gan_recipe": ["dcgan", "mlp_gan"], "04_vae_code": ["mlp_vae"]}.get(page, [])
    assert pretrained.available(tmp_path / "checkpoints") == exported
    for name in exported:
        model = pretrained.load(name, tmp_path / "checkpoints")
        assert model.sample(2, seed=0).shape == (2, 28, 28, 1)
