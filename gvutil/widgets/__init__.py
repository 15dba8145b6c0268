"""Interactive figures: explore a trained model's latent space by dragging.

Each explorer comes in two forms, for the two ways the book is read:

* **In Jupyter or Colab** (a kernel runs the model): ipywidgets controls.
  :class:`LatentExplorer` has two sliders, ``z1`` and ``z2``, and shows the digit the decoder makes
  of that point next to the encoder's map of test digits with a marker at the point;
  :class:`Interpolation` has one slider ``t`` in [0, 1] that walks, linearly or along a great circle
  (slerp), from one latent vector to another and shows the image at ``t`` with the path drawn.
* **On the website** (no kernel): :func:`latent_explorer_html` and :func:`interpolation_html` return
  a self-contained HTML output: the decoded images precomputed on a grid of latent points, as one
  PNG sprite inside the page, and ``<input type="range">`` controls whose script draws the nearest
  precomputed image. No request leaves the page, and the output is a deterministic function of the
  model's weights, so nbval can compare it.

For section 5.3's conditional GAN, :class:`DigitExplorer` (digit buttons and a noise slider) and
:func:`digit_explorer_html` (every digit at points along the noise path, as one sprite).

For section 5.4's sweep of VAEs (one per beta): :class:`SweepExplorer` and :func:`sweep_explorer_html`
(a slider over the settings; each setting's samples, reconstructions and KL per latent dimension).

A third pair turns a dial on a training run instead of a trained model: :class:`TrainingDial`
(generator steps per discriminator step, learning rate and number of steps, then a "train" button)
trains a small GAN on a ring of Gaussians in seconds and shows its samples over the ring's modes with
the number of modes covered (:func:`gvutil.toy.mode_coverage`); :func:`training_grid` trains it once
for every setting of a small grid and :func:`training_dial_html` shows those runs without a kernel.

The ipywidgets need ``ipywidgets>=8`` (the ``widgets`` extra); in Colab the chapters' setup cell
enables Colab's custom widget manager.
"""

from __future__ import annotations

from .dial import (TrainingDial, TrainingGrid, ring_picture, ring_png, training_dial_html,
                   training_grid)
from .latent import (DigitExplorer, Interpolation, LatentExplorer, decode_latents, digit_explorer_html,
                     encode_means, interpolate, interpolation_html, latent_explorer_html)
from .sweep import SweepExplorer, sweep_explorer_html, sweep_tile


__all__ = [
    "decode_latents", "encode_means", "interpolate", "LatentExplorer", "Interpolation",
    "latent_explorer_html", "interpolation_html", "ring_picture", "ring_png", "TrainingDial", "TrainingGrid",
    "training_grid", "training_dial_html", "DigitExplorer", "digit_explorer_html",
    "SweepExplorer", "sweep_explorer_html", "sweep_tile",
]
