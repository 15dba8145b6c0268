"""One source, d2l-style: gvutil's model modules are the cells chapter 4 marks ``#@save``."""

import subprocess
import sys

import library


def test_the_model_modules_are_what_the_pages_say():
    """A page edited without `make library`, or a module edited by hand, fails here with the diff."""
    proc = subprocess.run([sys.executable, library.__file__, "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]


def test_the_check_catches_a_module_that_drifted(tmp_path):
    """The check is not vacuous: a module one character away from its pages is reported."""
    for module in library.MODULES:
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / module).write_text(library.module_text(module))
    assert library.stale(tmp_path) == {}
    gan = tmp_path / "gvutil/models/gan.py"
    text = gan.read_text()
    assert "class GAN(ImageModel):" in text and "def train_step(self, data):" in text
    gan.write_text(text.replace("label_smoothing=0.0", "label_smoothing=0.1", 1))
    assert list(library.stale(tmp_path)) == ["gvutil/models/gan.py"]


def test_each_train_step_fits_one_screen():
    """Issue 21: a train_step a reader follows top to bottom, at most 35 lines with its decorators."""
    import inspect

    from gvutil import models

    for cls in (models.GAN, models.VAE):
        lines, _ = inspect.getsourcelines(cls.train_step.__wrapped__)
        assert len(lines) + 2 <= 35, (cls.__name__, len(lines))  # + @add_to_class, @stateful_step


def test_only_what_a_page_can_carry():
    """Issue 21: the models stay small enough to read (chapter 4's modules of gvutil/models/ at most
    700 lines, each later page's module at most 300), and gvutil carries none of the paths no chapter
    uses (float16 loss scaling, tf.distribute, torch)."""
    import re

    models_dir = library.REPO / "gvutil" / "models"
    chapter4 = ("__init__.py", "base.py", "gan.py", "vae.py")
    lines = sum(len((models_dir / name).read_text().splitlines()) for name in chapter4)
    assert lines <= 700, f"chapter 4's modules of gvutil/models/ have {lines} lines"
    later = {p.name: len(p.read_text().splitlines()) for p in models_dir.glob("*.py") if p.name not in chapter4}
    assert later and all(n <= 300 for n in later.values()), later
    unwanted = re.compile(r"LossScaleOptimizer|mixed_float16|tf\.distribute|\bimport torch|from torch")
    found = [f"{p.relative_to(library.REPO)}:{i}" for p in (library.REPO / "gvutil").rglob("*.py")
             for i, line in enumerate(p.read_text().splitlines(), 1) if unwanted.search(line)]
    assert not found, found
