"""The widgets live in a real JupyterLab: this environment's ``jupyter lab`` on 127.0.0.1, headless
Chromium, a notebook whose cells build a :class:`gvutil.widgets.LatentExplorer`, a
:class:`gvutil.widgets.TrainingDial` and an :class:`gvutil.widgets.Interpolation`; sliders moved with
the keyboard and the "train" button clicked, and each widget's image compared before and after,
pixel by pixel.

Part of the browser stage (``pytest -m browser``). The notebook is a small temporary one: an untrained
two-dimensional MLP VAE from ``gvutil.models`` builds in seconds, while the chapter with the explorer
(4.4) trains its VAE for minutes. The server gets a free port, a random token, and temporary
config, data, runtime, settings and workspace folders, so nothing of the user's Jupyter setup is read
or written; every wait is a condition with a time limit, and the server is stopped through its
shutdown API (which also stops the kernel). Screenshots: _build/screenshots/jupyterlab-*.png.
"""

from __future__ import annotations

import io
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest

import site_checks as sc

REPO = sc.REPO
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", REPO / "_build" / "screenshots"))
JUPYTER = Path(sys.executable).with_name("jupyter")  # the one beside this Python: .venv's
SERVER_START_S = 60   # until the server answers /api/status
CELL_S = 180          # until the cell has run and the widget shows its image (imports Keras)
STOP_S = 30           # until the server has exited after /api/shutdown

# The notebook: an untrained 2-D VAE (its decoder still maps different points to different images),
# the explorer started away from z = 0, where an untrained decoder gives a flat grey.
CELL = """\
import gvutil
from gvutil import models, widgets

vae = models.make_vae("mlp", latent_dim=2, hidden=32, seed=3)
explorer = widgets.LatentExplorer(vae, extent=3.0, scale=6)
explorer.z1.value, explorer.z2.value = -2.0, 1.5
explorer"""
# The training dial's "train" button, with an instant stand-in for chapter 2's ring_gan (the unit
# tests run the dial on the chapter's own GAN): here what matters is the click's way to the kernel
# and the picture's way back.
DIAL_CELL = """\
import numpy as np
from gvutil.data import ring_of_gaussians

_, centres = ring_of_gaussians(10)

def toy_train(g_steps, lr, record_at):
    rng = np.random.default_rng(g_steps)
    return {s: centres[rng.integers(0, 9 - g_steps, 2000)] + 0.03 * rng.standard_normal((2000, 2))
            for s in record_at}

dial = widgets.TrainingDial(toy_train, centres, std=0.05)
dial"""
# The GAN walk of section 4.2: an untrained generator still maps different noise to different images.
# Seeded weights, and noise 3 times the usual scale: an unseeded untrained generator changed as few as
# 18 % of its pixels by more than 0.02 between two standard-normal z (a CI run); at 3 times the scale
# the seeded one changes most of them.
WALK_CELL = """\
import numpy as np
import gvutil
from gvutil import models, widgets

gvutil.seed_everything(0)
gan = models.make_gan("mlp", latent_dim=8, hidden=16, seed=3)
z_a, z_b = 3 * np.random.default_rng(0).standard_normal((2, 8)).astype("float32")
walk = widgets.Interpolation(gan, z_a, z_b, method="slerp", scale=6)
walk"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``with LabServer(root) as url:`` runs ``jupyter lab`` on 127.0.0.1 for the files in ``root``;
    ``url`` is the lab's address with its token. Stopped through /api/shutdown on exit."""

    def __init__(self, root: Path, home: Path):
        self.root, self.home = root, home
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "jupyter-lab.log"

    def _env(self) -> dict:
        env = dict(os.environ)
        for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                          ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                          ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"), ("IPYTHONDIR", "ipython")]:
            (self.home / sub).mkdir(parents=True, exist_ok=True)
            env[name] = str(self.home / sub)
        # The user settings of this lab: never fetch news (and do not ask, in a toast over the page).
        notification = self.home / "lab-settings" / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text(
            '{"fetchNews": "false", "checkForUpdates": false}')
        env["PATH"] = f"{JUPYTER.parent}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("KERAS_BACKEND", "tensorflow")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return env

    def _get(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.base + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def __enter__(self) -> str:
        if not JUPYTER.is_file():
            pytest.skip(f"no {JUPYTER}: jupyterlab is not installed in this environment")
        cmd = [str(JUPYTER), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               # nothing from the internet: no update check, no news, no extension index
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.news_url=None", "--LabApp.extension_manager=readonly"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
            cmd.append("--allow-root")
        self.home.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self._env(), stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_S
        while True:  # poll the status API until the server answers (or exits, or time runs out)
            if self.proc.poll() is not None:
                self._close_log()
                pytest.fail(f"jupyter lab exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self._get("/api/status") == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                pytest.fail(f"jupyter lab did not answer within {SERVER_START_S} s:\n{self.log()}")
            time.sleep(0.2)
        return f"{self.base}/lab/tree/explorer.ipynb?token={self.token}"

    def __exit__(self, *exc):
        """Ask the server to shut down (kernels first); only if it does not, end its process group."""
        self.stopped_cleanly = False
        if self.proc.poll() is None:
            try:
                self._get("/api/shutdown", method="POST")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # the server closes the connection as it stops
            try:
                self.proc.wait(timeout=STOP_S)
                self.stopped_cleanly = True
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)  # the group started above: the server and its kernel
                self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self):
        if not self._log.closed:
            self._log.close()


def _difference(png_a: bytes, png_b: bytes) -> np.ndarray:
    """Per-pixel largest channel difference in [0, 1] of two screenshots of one element (cropped to
    their common size: a layout shift of a fraction of a pixel can add a row or column to one)."""
    import matplotlib.image

    a, b = (matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3] for png in (png_a, png_b))
    assert abs(a.shape[0] - b.shape[0]) <= 1 and abs(a.shape[1] - b.shape[1]) <= 1, (a.shape, b.shape)
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return np.abs(a[:h, :w] - b[:h, :w]).max(axis=-1)


@pytest.mark.browser
def test_explorer_dial_and_walk_respond_in_jupyterlab(browser, tmp_path):
    """Run the cells in JupyterLab; move the explorer's z1 with the keyboard (End: to its maximum)
    and its decoded image changes; press the training dial's "train" and its picture changes."""
    from playwright.sync_api import expect

    root = tmp_path / "notebooks"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in (CELL, DIAL_CELL, WALK_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nbformat.write(nb, root / "explorer.ipynb")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "jupyterlab-failure.png").unlink(missing_ok=True)  # only a failure of this run
    events: list[str] = []
    server = LabServer(root, tmp_path / "jupyter")
    with server as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")

        def route(r):  # JupyterLab must not need anything outside the machine either
            if r.request.url.startswith((server.base, "data:", "blob:")):
                r.continue_()
            else:
                events.append(f"blocked request to outside 127.0.0.1: {r.request.url}")
                r.abort("blockedbyclient")

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(CELL_S * 1000)
        page.on("pageerror", lambda e: events.append(f"page error: {e}"))
        try:
            page.goto(url, wait_until="domcontentloaded")
            cell = page.locator(".jp-Notebook .jp-CodeCell").first
            cell.wait_for(state="visible")
            # Wait until the kernel has started and is idle (the status bar says so), then run the
            # cell as a reader does: click into it, Shift+Enter.
            expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle",
                                                                       timeout=CELL_S * 1000)
            cell.locator(".cm-content").click()
            for _ in range(3):  # runs the explorer's cell, the dial's, the walk's
                page.keyboard.press("Shift+Enter")
            image = cell.locator("img.widget-image").first
            expect(image).to_be_visible(timeout=CELL_S * 1000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            expect(cell.locator(".jp-InputPrompt")).to_have_text("[1]:", timeout=CELL_S * 1000)
            slider = cell.locator(".widget-slider").first
            expect(slider.locator(".widget-readout")).to_have_text("\u22122.00")  # d3-format's minus sign
            output = cell.locator(".jp-OutputArea-output").first
            output.screenshot(path=str(SCREENSHOTS / "jupyterlab-explorer-before.png"))
            before, src = image.screenshot(), image.get_attribute("src")

            handle = slider.locator(".noUi-handle").first
            handle.focus()
            page.keyboard.press("End")  # noUiSlider's keyboard support: to the maximum, 3.00
            expect(slider.locator(".widget-readout")).to_have_text("3.00")
            # the kernel sends the new image; the widget swaps the <img>'s blob URL for it
            page.wait_for_function("([img, old]) => img.src !== old && img.complete && img.naturalWidth > 0",
                                   arg=[image.element_handle(), src])
            after = image.screenshot()
            output.screenshot(path=str(SCREENSHOTS / "jupyterlab-explorer-after.png"))

            # The training dial: press "train"; the label reports the modes covered and the picture
            # of the ring gets its samples.
            dial = page.locator(".jp-Notebook .jp-CodeCell").nth(1)
            ring = dial.locator("img.widget-image").first
            expect(ring).to_be_visible(timeout=CELL_S * 1000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=ring.element_handle())
            expect(dial.locator(".jp-InputPrompt")).to_have_text("[2]:", timeout=CELL_S * 1000)
            ring_before, ring_src = ring.screenshot(), ring.get_attribute("src")
            dial.get_by_role("button", name="train").click()
            expect(dial.locator(".widget-html").last).to_contain_text("8 of 8 modes covered",
                                                                       timeout=CELL_S * 1000)
            page.wait_for_function("([img, old]) => img.src !== old && img.complete && img.naturalWidth > 0",
                                   arg=[ring.element_handle(), ring_src])
            ring_after = ring.screenshot()
            dial.locator(".jp-OutputArea-output").first.screenshot(
                path=str(SCREENSHOTS / "jupyterlab-training-dial.png"))

            # The interpolation: t from 0 to 1 with the keyboard; the generated image changes.
            walk = page.locator(".jp-Notebook .jp-CodeCell").nth(2)
            walk_image = walk.locator("img.widget-image").first
            expect(walk_image).to_be_visible(timeout=CELL_S * 1000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=walk_image.element_handle())
            expect(walk.locator(".jp-InputPrompt")).to_have_text("[3]:", timeout=CELL_S * 1000)
            t_slider = walk.locator(".widget-slider").first
            expect(t_slider.locator(".widget-readout")).to_have_text("0.00")
            walk_before, walk_src = walk_image.screenshot(), walk_image.get_attribute("src")
            t_slider.locator(".noUi-handle").first.focus()
            page.keyboard.press("End")
            expect(t_slider.locator(".widget-readout")).to_have_text("1.00")
            page.wait_for_function("([img, old]) => img.src !== old && img.complete && img.naturalWidth > 0",
                                   arg=[walk_image.element_handle(), walk_src])
            walk_after = walk_image.screenshot()
            walk.locator(".jp-OutputArea-output").first.screenshot(
                path=str(SCREENSHOTS / "jupyterlab-interpolation.png"))
            page.screenshot(path=str(SCREENSHOTS / "jupyterlab.png"))
        except Exception as e:
            page.screenshot(path=str(SCREENSHOTS / "jupyterlab-failure.png"))
            raise AssertionError(f"{type(e).__name__}: {e}\n(screenshot: {SCREENSHOTS}/jupyterlab-failure.png; "
                                 f"events: {events}; server log:\n{server.log()})") from None
        finally:
            context.close()
    assert server.stopped_cleanly, f"jupyter lab did not stop within {STOP_S} s of /api/shutdown"

    # An untrained decoder draws grey noise around 1/2, different at every point: most pixels change
    # by a few grey levels (an image that is drawn again unchanged gives identical screenshots).
    difference = _difference(before, after)
    assert difference.shape[0] >= 28 * 6 - 2, difference.shape
    changed = (difference > 0.02).mean()
    assert changed > 0.25, f"only {changed:.1%} of the image's pixels changed when z1 moved to 3.0"
    drawn = (_difference(ring_before, ring_after) > 0.1).mean()  # orange samples on white
    assert drawn > 0.005, f"pressing train changed only {drawn:.2%} of the dial's picture"
    walked = (_difference(walk_before, walk_after) > 0.02).mean()
    assert walked > 0.25, f"only {walked:.1%} of the walk's image changed from t = 0 to t = 1"
    assert not events, events
