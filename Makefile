# The two commands of the README: `make book` and `make test`. Everything runs in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed$(if $(GPU),-gpu,)

# Offline machines (CI, this repo's dev boxes) keep MNIST in ../shared/data; elsewhere the loader
# downloads it into ~/.cache/gvutil. An explicit GVUTIL_DATA_DIR always wins.
GVUTIL_DATA_DIR ?= $(wildcard $(abspath ../shared/data))
export GVUTIL_DATA_DIR
# Quiet TensorFlow's C++ logs (oneDNN stays on: faster; its start-up line goes to the terminal,
# never into stored outputs, see `execute`), fix hashing.
export TF_CPP_MIN_LOG_LEVEL  := 2
export PYTHONHASHSEED        := 0

NOTEBOOKS := $(wildcard book/*.ipynb)
PYTEST    := $(BIN)/python -m pytest -p no:cacheprovider
# nbval runs the notebooks in two kernels at once (pytest-xdist, one notebook per worker, its cells
# in order): on 2 cores the small models of the book train ~1.7x faster in two processes than in one,
# and every kernel keeps TensorFlow's own thread settings, so the outputs are those of `make execute`.
NBVAL_WORKERS ?= 2
# tests/nbval_tolerance.py (a plugin around nbval): every output is compared exactly on a machine
# with the stored run's fingerprint (tests/machine.py, recorded by `make execute`); on another CPU,
# the numbers of a training run that tests/tolerances.toml names may differ by their measured
# tolerance, and everything else is still compared exactly. NBVAL_MODE=exact|tolerant forces a mode.
NBVAL_MODE ?= auto
NBVAL     := $(PYTEST) --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
             -p nbval_tolerance --nbval-mode $(NBVAL_MODE) \
             -n $(NBVAL_WORKERS) --dist loadscope --no-loadscope-reorder
# The order the workers take the notebooks in: the longest first (measured: the four GAN pages of
# chapters 4 and 5 train for minutes each, then the three VAE pages), so that the short ones fill the
# gaps at the end and neither worker is left with a long page after the other has finished. Every
# other notebook follows.
NBVAL_FIRST := book/04_gan_recipe.ipynb book/05_gan_techniques.ipynb book/04_gan_code.ipynb \
               book/05_cgan.ipynb book/04_vae_code.ipynb book/05_vae_techniques.ipynb book/04_vae_latent2d.ipynb
NBVAL_NOTEBOOKS := $(NBVAL_FIRST) $(filter-out $(NBVAL_FIRST),$(sort $(wildcard book/*.ipynb)))
JB        := $(BIN)/jupyter-book

.PHONY: help venv book site gettext test unit unit-tf unit-jax nbval nbval-elsewhere browser lab execute library converged install-checkpoints \
        clean test-compat

help:
	@echo "make book     build the website into _build/html, the Chinese edition into _build/html/zh (creates .venv first)"
	@echo "make gettext  after an English edit: update the Chinese catalogs (locales/zh_CN), report what needs translating"
	@echo "make test     unit tests on both backends + nbval on every notebook + strict site build + browser"
	@echo "make lab      open the book in JupyterLab"
	@echo "make execute NB=book/x.ipynb   re-run one notebook top to bottom and store its outputs"
	@echo "make library                   rewrite gvutil/models/gan.py, vae.py from the chapters' #@save cells"
	@echo "make converged  retrain chapter 4's reference checkpoints with the full profile (hours on a CPU)"
	@echo "make install-checkpoints  ship them: copy _build/converged/checkpoints into gvutil/pretrained"
	@echo "make test-compat  unit tests + every notebook (nbval lax) on the oldest and newest supported versions"

venv: $(STAMP)

# GPU=1: also JAX's CUDA 12 plugin and libraries (requirements-gpu.txt; use KERAS_BACKEND=jax).
REQUIREMENTS := $(if $(GPU),requirements-gpu.txt,requirements.txt)

$(STAMP): requirements.txt requirements-gpu.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Both editions from the same notebooks: English at _build/html, Chinese at _build/html/zh (Sphinx's
# gettext catalogs in locales/zh_CN, book/_ext/editions.py). The two builds run at once: they share
# nothing but the sources, and each is single-threaded.
EDITION_ZH := $(BIN)/python book/_ext/editions.py zh
book: venv
	$(JB) build . --quiet & en=$$!; $(EDITION_ZH); zh=$$?; wait $$en && test $$zh = 0
	@echo "Open _build/html/index.html (English) or _build/html/zh/index.html (中文)"

# Strict build of both editions: any warning fails. Removes the old builds so that nothing stale hides
# a warning.
site: venv
	rm -rf _build/html _build/.doctrees _build/.doctrees-zh
	$(JB) build . -W -n --keep-going --quiet & en=$$!; $(EDITION_ZH) --strict; zh=$$?; wait $$en && test $$zh = 0

# After an English edit: re-extract the messages (_build/gettext) and merge them into the Chinese
# catalogs (sphinx-intl update); then translate what is new (locales/TRANSLATING.md).
gettext: venv
	$(BIN)/python book/_ext/editions.py gettext
	$(BIN)/python tests/catalogs.py || true

unit: unit-tf unit-jax

# Two pytest workers (pytest-xdist): the unit tests are many small models, bound by one core each, and
# unit-tf also executes chapter 4 under the "tiny" profile (tests/test_full_profile.py).
UNIT_WORKERS ?= 2
unit-tf: venv
	KERAS_BACKEND=tensorflow $(PYTEST) -n $(UNIT_WORKERS) tests -m "not browser"

unit-jax: venv
	KERAS_BACKEND=jax $(PYTEST) -n $(UNIT_WORKERS) tests -m "not browser"

nbval: venv
	KERAS_BACKEND=tensorflow $(NBVAL) $(NBVAL_NOTEBOOKS)

# The built site (_build/html, from `make site`) opened page by page in headless Chromium
# (/usr/bin/chromium, Debian's package; .ci/run installs it), and the ipywidgets explorers live in a
# real `jupyter lab` on 127.0.0.1 (tests/test_lab.py). Screenshots: _build/screenshots/.
# Two pytest workers, one test file each (the English site, the Chinese site, JupyterLab): measured
# here under load, 135 s against 213 s in one process.
browser: venv
	$(PYTEST) -n 2 --dist loadfile tests -m browser

# nbval in tolerant mode on a short page with declared tolerances, with settings that make this CPU
# compute like one without AVX-512 (another machine's last bits): the check that `make test` passes
# on the machines readers have, and that the declared tolerances hold, runs on every change.
ELSEWHERE := ONEDNN_MAX_CPU_ISA=AVX2 XLA_FLAGS=--xla_cpu_max_isa=AVX2
nbval-elsewhere: venv
	$(ELSEWHERE) KERAS_BACKEND=tensorflow $(NBVAL) book/05_challenges.ipynb book/03_math.ipynb

# Every stage runs, whatever the ones before it did; each prints its result and wall time, the run
# ends with a table of all of them, and the exit code is non-zero if any stage failed.
TEST_STAGES ?= unit-tf unit-jax nbval nbval-elsewhere site browser
test: venv
	@summary=""; failed=0; \
	for stage in $(TEST_STAGES); do \
	  start=$$(date +%s); \
	  if $(MAKE) --no-print-directory $$stage; then result=passed; else result=FAILED; failed=1; fi; \
	  line="== stage $$stage $$result in $$(( $$(date +%s) - start )) s"; \
	  echo "$$line"; summary="$$summary$$line\n"; \
	done; \
	echo "== make test: every stage"; printf "$$summary"; \
	if [ $$failed = 0 ]; then echo "== make test passed"; else echo "== make test FAILED"; fi; \
	exit $$failed

lab: venv
	$(BIN)/jupyter lab book

# Then the machine that ran it (CPU, instruction sets, threads, library versions) goes into the
# notebook's metadata (tests/machine.py stamp), where nbval's check looks for it.
# store_widget_state=False: no ipywidgets state is stored in a notebook (myst-nb would load the widget
# manager from a CDN for it); the website shows each explorer's kernel-free HTML instead.
# gvutil/models/gan.py and vae.py are the cells chapter 4 marks #@save; rewrite them after editing one
# (tests/test_library.py fails until then).
library: venv
	$(BIN)/python tests/library.py

execute: venv
	@test -n "$(NB)" || (echo "usage: make execute NB=book/<name>.ipynb" && exit 2)
	KERAS_BACKEND=tensorflow $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=900 --ExecutePreprocessor.kernel_name=python3 \
	  --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.store_widget_state=False \
	  --ExecutePreprocessor.extra_arguments=--IPKernelApp.capture_fd_output=False $(NB)
	KERAS_BACKEND=tensorflow $(BIN)/python tests/machine.py stamp $(NB)

# The converged reference runs of chapter 4 (tests/converged.py): its pages executed with the full
# profile, each trained model exported into _build/converged/checkpoints (weights, RECORD.json/md);
# the executed pages go to _build/converged/. Hours on a CPU. Nothing is written into the package:
# `make install-checkpoints` replaces the shipped checkpoints, after checking each file's SHA-256.
CONVERGED_PAGES ?= 04_gan_recipe 04_vae_code 04_gan_code
# The support range (issue: Colab and fresh installs get other versions than requirements.txt): fresh
# venvs with the oldest versions pyproject.toml allows and with the newest releases, each running the
# unit tests on both backends and every notebook in nbval's lax mode, plus a Colab-shaped run of
# chapter 3 (its setup cell installs gvutil --no-deps). About 40 minutes on 2 cores, so not part of
# `make test`. Venvs and logs: $(COMPAT_DIR); tests/compat.py --help for single sets or steps.
COMPAT_DIR ?= /tmp/gvutil-compat
test-compat:
	$(PYTHON) tests/compat.py --dir $(COMPAT_DIR)

converged: venv
	KERAS_BACKEND=tensorflow $(BIN)/python tests/converged.py --out _build/converged --pages $(CONVERGED_PAGES)

install-checkpoints: venv
	$(BIN)/python -c "from gvutil import pretrained; print('installed', pretrained.install('_build/converged/checkpoints'))"

clean:
	rm -rf _build
