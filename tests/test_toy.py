"""gvutil.toy.mode_coverage: counting the modes a generator covers."""

import numpy as np
import pytest

from gvutil.data import ring_of_gaussians
from gvutil.toy import mode_coverage


def test_data_covers_every_mode():
    x, centres = ring_of_gaussians(4000, modes=8, std=0.05, seed=0)
    cov = mode_coverage(x, centres, std=0.05)
    assert cov.covered == 8
    assert cov.high_quality > 0.98  # 3 std in 2-D holds 98.9% of a Gaussian's mass
    assert cov.counts.sum() == round(cov.high_quality * 4000)
    assert "8 of 8 modes" in str(cov)


def test_collapsed_samples_cover_one_mode():
    _, centres = ring_of_gaussians(10, modes=8)
    rng = np.random.default_rng(0)
    x = centres[3] + 0.01 * rng.standard_normal((500, 2))
    cov = mode_coverage(x, centres, std=0.05)
    assert cov.covered == 1 and cov.counts[3] == 500


def test_samples_between_modes_are_not_counted():
    _, centres = ring_of_gaussians(10, modes=8)
    between = (centres + np.roll(centres, 1, axis=0)) / 2
    cov = mode_coverage(np.repeat(between, 10, axis=0), centres, std=0.05)
    assert cov.covered == 0 and cov.high_quality == 0.0


def test_min_fraction_threshold():
    _, centres = ring_of_gaussians(10, modes=4)
    x = np.concatenate([np.repeat(centres[:1], 99, 0), centres[1:2]])  # 99 + 1 samples
    assert mode_coverage(x, centres, std=0.05, min_fraction=0.01).covered == 2
    assert mode_coverage(x, centres, std=0.05, min_fraction=0.02).covered == 1


def test_accepts_backend_tensors_and_checks_shapes():
    import keras

    _, centres = ring_of_gaussians(10, modes=8)
    cov = mode_coverage(keras.ops.convert_to_tensor(centres), centres, std=0.05)
    assert cov.covered == 8
    with pytest.raises(ValueError):
        mode_coverage(np.zeros((5, 3)), centres, std=0.05)
