"""Test-wide setup: quiet TensorFlow before it is imported, find the offline MNIST copy, and one
headless Chromium for the browser tests (test_site.py, test_lab.py)."""

import os
from pathlib import Path

import pytest

# Must happen before Keras/TensorFlow is imported by any test module.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
_SHARED = REPO.parent / "shared" / "data"
if not os.environ.get("GVUTIL_DATA_DIR") and (_SHARED / "mnist").is_dir():
    os.environ["GVUTIL_DATA_DIR"] = str(_SHARED)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder holding mnist/*.gz (GVUTIL_DATA_DIR); skips if there is none (fails under CI)."""
    d = os.environ.get("GVUTIL_DATA_DIR")
    if not d or not (Path(d) / "mnist").is_dir():
        missing("no local MNIST copy: set GVUTIL_DATA_DIR to a folder with mnist/*.gz")
    return Path(d)


@pytest.fixture
def float64():
    """Double precision for one test: ``gvutil.autodiff.enable_float64()``, with JAX's global
    ``jax_enable_x64`` flag put back afterwards, so that no later test runs in x64 by accident."""
    import keras

    from gvutil.autodiff import enable_float64

    if keras.backend.backend() != "jax":
        enable_float64()
        yield
        return
    import jax

    before = bool(jax.config.jax_enable_x64)
    enable_float64()
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays, loaded once per session."""
    from gvutil.data import load_mnist

    return load_mnist(download=False)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through Playwright, one for the session (the browser tests)."""
    import site_checks as sc

    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:  # pragma: no cover
        missing(f"playwright is not installed ({e})")
    if not Path(sc.CHROMIUM).is_file():
        missing(f"{sc.CHROMIUM} not found: `apt-get install -y --no-install-recommends "
                "chromium` (.ci/run does it)")
    with sync_playwright() as pw:
        b = sc.launch(pw)
        yield b
        b.close()


def missing(msg):
    """Skip a test for a missing tool, except in CI, where a missing tool is a broken pipeline."""
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)
