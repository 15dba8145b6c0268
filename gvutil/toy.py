"""Measurements on the toy distributions of :mod:`gvutil.data` (2-D rings and grids of Gaussians).

A generator *covers* a mode when enough of its samples land close to that mode's centre. This is
the usual way of counting modes on the ring-of-Gaussians benchmark (the three-standard-deviation
rule follows VEEGAN, Srivastava et al., 2017): a sample is of *high quality* when it lies within
``k`` standard deviations of the nearest centre, and a mode is covered when it receives at least
``min_fraction`` of the samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["ModeCoverage", "mode_coverage"]


@dataclass(frozen=True)
class ModeCoverage:
    """What :func:`mode_coverage` measured.

    Attributes:
        counts: (modes,) number of high-quality samples at each mode.
        covered: number of modes with at least ``min_fraction`` of the samples.
        high_quality: fraction of all samples within ``k`` standard deviations of a centre.
        n: number of samples.
    """

    counts: np.ndarray
    covered: int
    high_quality: float
    n: int

    def __str__(self) -> str:
        return (f"{self.covered} of {len(self.counts)} modes covered, "
                f"{self.high_quality:.0%} of samples near a mode")


def mode_coverage(samples: ArrayLike, centres: ArrayLike, std: float, k: float = 3.0,
                  min_fraction: float = 0.01) -> ModeCoverage:
    """Count the modes of a Gaussian mixture that ``samples`` cover.

    Args:
        samples: (n, d) points (numpy array or backend tensor).
        centres: (modes, d) centres of the mixture's components.
        std: the components' standard deviation.
        k: a sample is near a mode when its distance to the centre is below ``k * std``.
        min_fraction: a mode is covered when at least this fraction of all samples is near it.
    """
    try:
        import keras

        samples = keras.ops.convert_to_numpy(samples)
    except Exception:  # pragma: no cover - plain numpy without keras
        pass
    x = np.asarray(samples, dtype="float64")
    c = np.asarray(centres, dtype="float64")
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples {x.shape} and centres {c.shape} must be (n, d) and (modes, d)")
    if std <= 0 or k <= 0 or not 0 < min_fraction <= 1:
        raise ValueError("std and k must be positive and min_fraction in (0, 1]")
    dist = np.sqrt(((x[:, None, :] - c[None]) ** 2).sum(-1))
    nearest = dist.argmin(1)
    near = dist[np.arange(len(x)), nearest] < k * std
    counts = np.bincount(nearest[near], minlength=len(c))
    covered = int((counts >= min_fraction * len(x)).sum())
    return ModeCoverage(counts=counts, covered=covered, high_quality=float(near.mean()), n=len(x))
