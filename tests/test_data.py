"""The MNIST loader (local, verified, downloaded) and the toy distributions."""

import gzip
import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from gvutil import data
from gvutil.data import ChecksumError, MNISTNotFoundError, load_mnist

# Label counts of the official MNIST training and test sets.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

# np.trapezoid is NumPy 2's name; 1.26 (pyproject's floor) only has np.trapz.
_trapezoid = getattr(np, "trapezoid", None) or np.trapz


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty data dir and an empty cache; returns (data_dir, cache_dir)."""
    data_dir, cache = tmp_path / "data", tmp_path / "cache"
    (data_dir / "mnist").mkdir(parents=True)
    monkeypatch.setenv("GVUTIL_DATA_DIR", str(data_dir))
    monkeypatch.setenv("GVUTIL_CACHE_DIR", str(cache))
    monkeypatch.delenv("GVUTIL_MNIST_MIRRORS", raising=False)
    return data_dir, cache


@pytest.fixture
def serve(tmp_path):
    """Serve a folder over HTTP on 127.0.0.1; yields a function folder -> base URL."""
    servers = []

    def start(folder):
        handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *a, **k: None
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def closed_port_url():
    """A URL on loopback where nothing listens: a stand-in for 'no network'."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def test_load_mnist_contract(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype("uint8")}
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert x_train.max() == 255 and x_train.min() == 0


def copy_data(src_dir: Path, dst_dir: Path):
    for f in (src_dir / "mnist").iterdir():
        shutil.copy(f, dst_dir / "mnist" / f.name)


def test_flipped_byte_gives_checksum_error(mnist_dir, isolated):
    data_dir, _ = isolated
    copy_data(mnist_dir, data_dir)
    victim = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError) as e:
        load_mnist(mirrors=[closed_port_url()])
    msg = str(e.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "Delete it" in msg


def test_wrong_content_gives_checksum_error(mnist_dir, isolated):
    """A valid gzip whose content differs by one byte is caught by the SHA-256, not by gzip."""
    data_dir, _ = isolated
    copy_data(mnist_dir, data_dir)
    victim = data_dir / "mnist" / "train-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(victim.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    victim.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(ChecksumError, match=r"train-labels-idx1-ubyte\.gz failed its checksum"):
        load_mnist(mirrors=[closed_port_url()])


def test_truncated_file_gives_checksum_error(mnist_dir, isolated):
    data_dir, _ = isolated
    copy_data(mnist_dir, data_dir)
    victim = data_dir / "mnist" / "train-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:100_000])
    with pytest.raises(ChecksumError, match="corrupted or truncated"):
        load_mnist(mirrors=[closed_port_url()])


def test_recompressed_original_passes(mnist_dir, isolated):
    """The checksum is over decompressed bytes: a different gzip of the same data is accepted."""
    data_dir, _ = isolated
    for f in (mnist_dir / "mnist").iterdir():
        (data_dir / "mnist" / f.name).write_bytes(gzip.compress(gzip.decompress(f.read_bytes()), 1))
    (x, y), _ = load_mnist(download=False)
    assert x.shape == (60000, 28, 28) and y[:3].tolist() == [5, 0, 4]


def test_offline_without_files_is_one_clear_sentence(isolated):
    with pytest.raises(MNISTNotFoundError) as e:
        load_mnist(mirrors=[closed_port_url()], timeout=2)
    msg = str(e.value)
    assert msg.startswith("MNIST file train-images-idx3-ubyte.gz is not in")
    assert "could not be downloaded (no network?" in msg and "GVUTIL_DATA_DIR" in msg
    assert e.value.__cause__ is None and e.value.__context__ is None  # no chained socket errors
    assert msg.count(". ") == 0 and msg.endswith("internet.")  # one sentence
    assert e.value.failures[0][0].endswith("/train-images-idx3-ubyte.gz")
    assert isinstance(e.value, FileNotFoundError)


def test_download_false_never_downloads(isolated):
    with pytest.raises(MNISTNotFoundError, match="download=False"):
        load_mnist(download=False)


def test_download_verifies_and_caches(mnist_dir, isolated, serve):
    _, cache = isolated
    url = serve(mnist_dir / "mnist")
    (x, y), (xt, yt) = load_mnist(mirrors=[url])
    assert x.shape == (60000, 28, 28) and yt.shape == (10000,)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(data.MNIST_FILES)
    # Second call: served from the cache, with no server reachable.
    (x2, _), _ = load_mnist(mirrors=[closed_port_url()])
    assert np.array_equal(x, x2)


def test_download_of_bad_file_is_rejected_and_not_kept(mnist_dir, isolated, serve, tmp_path):
    _, cache = isolated
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in (mnist_dir / "mnist").iterdir():
        shutil.copy(f, bad / f.name)
    (bad / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0" * 1000))
    good = serve(mnist_dir / "mnist")
    # The first mirror serves a bad file: rejected, the second mirror's copy is used.
    (x, _), _ = load_mnist(mirrors=[serve(bad), good])
    assert x.shape == (60000, 28, 28)
    # Only a bad mirror: a clear error, and nothing half-written left in the cache.
    shutil.rmtree(cache)
    with pytest.raises(MNISTNotFoundError, match="failed its checksum"):
        load_mnist(mirrors=[serve(bad)])
    assert not (cache / "mnist" / "train-images-idx3-ubyte.gz").exists()
    assert not list((cache / "mnist").glob("*.part"))


def test_to_float_images_and_binarize():
    x = np.array([[[0, 255], [128, 64]]], dtype=np.uint8)
    f = data.to_float_images(x)
    assert f.shape == (1, 2, 2, 1) and f.dtype == np.float32
    assert f.min() == 0.0 and f.max() == 1.0
    p = np.full((200, 28, 28), 0.3, dtype=np.float32)
    b1, b2 = data.binarize(p, seed=1), data.binarize(p, seed=1)
    assert np.array_equal(b1, b2) and set(np.unique(b1)) == {0.0, 1.0}
    assert abs(b1.mean() - 0.3) < 0.005
    assert not np.array_equal(b1, data.binarize(p, seed=2))
    assert data.binarize(np.zeros((3, 3))).sum() == 0 and data.binarize(np.ones((3, 3))).sum() == 9


def test_gaussian_mixture_moments_and_seed():
    means, stds, w = [-2.0, 3.0], [0.5, 1.0], [0.25, 0.75]
    a = data.gaussian_mixture(200_000, means, stds, w, seed=7)
    assert a.shape == (200_000, 1) and a.dtype == np.float32
    assert np.array_equal(a, data.gaussian_mixture(200_000, means, stds, w, seed=7))
    mean = 0.25 * -2 + 0.75 * 3
    var = 0.25 * (0.25 + 4) + 0.75 * (1 + 9) - mean**2
    assert abs(a.mean() - mean) < 0.02 and abs(a.var() - var) < 0.05


def test_gaussian_mixture_density_integrates_to_one():
    xs = np.linspace(-10, 10, 20001)
    p = data.gaussian_mixture_density(xs, [-2.0, 3.0], [0.5, 1.0], [0.25, 0.75])
    assert abs(_trapezoid(p, xs) - 1.0) < 1e-6
    # Peak heights are w/(sqrt(2 pi) s): 0.25/0.5 = 0.5 < 0.75/1.0, so with the weights
    # respected the wide component is the taller one; swapped weights would move the peak.
    assert abs(xs[np.argmax(p)] - 3.0) < 0.05
    assert abs(p.max() - 0.75 / np.sqrt(2 * np.pi)) < 1e-3


def test_ring_of_gaussians():
    pts, means = data.ring_of_gaussians(8000, modes=8, radius=2.0, std=0.05, seed=0)
    assert pts.shape == (8000, 2) and means.shape == (8, 2)
    assert np.allclose(np.linalg.norm(means, axis=1), 2.0)
    nearest = np.argmin(((pts[:, None] - means[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=8)
    assert counts.min() > 850 and counts.max() < 1150  # all eight modes, about equally
    assert np.abs(np.linalg.norm(pts, axis=1) - 2.0).max() < 0.5


def test_bad_weights_are_rejected():
    with pytest.raises(ValueError, match="weights must be 2 non-negative numbers"):
        data.gaussian_mixture(10, [0.0, 1.0], 1.0, weights=[1.0])
    with pytest.raises(ValueError, match="weights must be 2 non-negative numbers, not all zero"):
        data.gaussian_mixture_density([0.0], [0.0, 1.0], 1.0, weights=[0.0, 0.0])  # the density too


def test_bad_stds_are_rejected_with_what_was_received():
    with pytest.raises(ValueError, match=r"stds must be positive and finite; received \[\[1.0\], \[-0.5\]\]"):
        data.gaussian_mixture(10, [0.0, 1.0], [1.0, -0.5])
    with pytest.raises(ValueError, match=r"stds must be one number, 2 numbers or a \(2, 1\) array .* shape \(3,\)"):
        data.gaussian_mixture_density([0.0], [0.0, 1.0], [1.0, 1.0, 1.0])
