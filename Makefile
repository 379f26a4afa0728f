# The two commands of the README: `make book` and `make test` (plus `make lab`).
# Everything runs from a virtual environment in .venv, created from requirements.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.requirements-installed
MATHJAX_VERSION := 3.2.2
MATHJAX := book/_static/mathjax/tex-chtml.js
AXE_VERSION := 4.14.1
AXE := tests/site/axe-core/.version-$(AXE_VERSION)
# the interactive figures' JavaScript: the versions aecore.interactive.VEGA_VERSIONS names
VEGA_VERSION := 5.33.1
VEGALITE_VERSION := 5.20.1
VEGAEMBED_VERSION := 6.29.0
VEGA := book/_static/vega/.fetched-$(VEGA_VERSION)-$(VEGALITE_VERSION)-$(VEGAEMBED_VERSION)

# TensorFlow's C++ start-up logging (CUDA probing, oneDNN notices) is noise in notebooks.
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

.PHONY: book test colab-test unit site-test smoke-book smoke-nbval lab venv clean clean-smoke

## book: execute every notebook at full size and build the site into _build/html.
## Models that several chapters share are trained once per build (kept in _build/models).
book: $(STAMP) $(MATHJAX) $(VEGA)
	@start=$$(date +%s); \
	AECORE_CACHE_DIR=$(CURDIR)/_build/models $(BIN)/jupyter-book build . || exit 1; \
	echo "Built in $$(( $$(date +%s) - start )) s. Open: $(CURDIR)/_build/html/index.html"

SMOKE_SITE := _build/smoke/_build/html

## test: every notebook in smoke mode under nbval (two workers), whose outputs seed the smoke
## book's execution cache (conftest.py), so that the -W smoke build then renders every
## notebook without running it again; then, side by side, the unit tests (two workers) and
## the smoke-built site in headless Chromium, axe-core included (skipped when Chromium is
## missing), which mostly waits on the browser
test: $(STAMP) $(MATHJAX) $(VEGA) $(AXE)
	$(MAKE) --no-print-directory smoke-nbval
	$(MAKE) --no-print-directory smoke-book
	$(MAKE) --no-print-directory -j2 --output-sync=target unit site-test
	@echo "Screenshots of every page: $(CURDIR)/_build/smoke/_build/screenshots"

## colab-test: every notebook in smoke mode, run by papermill from outside the repository,
## in a separate environment pinned to Colab's runtime (tests/colab/colab-runtime.txt) with
## aecore installed as the notebooks' Colab cell installs it (from git HEAD, with its
## dependencies). Fails if a notebook fails or the install changes TensorFlow or NumPy.
## (COLAB_ARGS: more options of tests/colab/run.py, e.g. --env DIR to keep it elsewhere)
colab-test:
	$(PYTHON) tests/colab/run.py $(COLAB_ARGS)

SMOKE_ENV := SMOKE_TEST=1 AECORE_CACHE_DIR=$(CURDIR)/_build/smoke/models

# The notebooks in the order the workers take them: the six slowest smoke runs first (as
# pytest --durations measured them), so that neither worker is left with a long one at the
# end. (--no-loadscope-reorder keeps this order; by default the notebooks of most cells go
# first.)
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
SLOW_FIRST := $(foreach n,13_masked 10_feature 12_vector 09_image 15_time 08_anomaly,\
                $(filter notebooks/$(n)%,$(NOTEBOOKS)))
NOTEBOOK_ORDER := $(SLOW_FIRST) $(filter-out $(SLOW_FIRST),$(sort $(NOTEBOOKS)))

## smoke-nbval: every notebook in smoke mode under nbval, its outputs kept for the smoke book
smoke-nbval: $(STAMP)
	$(SMOKE_ENV) $(BIN)/python -m pytest $(NOTEBOOK_ORDER) --nbval-lax --nbval-current-env \
	    -n 2 --dist loadscope --no-loadscope-reorder \
	    --nb-cache $(CURDIR)/_build/smoke/_build/.jupyter_cache

## smoke-book: warning-free book build in smoke mode, in its own folder and cache
smoke-book: $(STAMP) $(MATHJAX) $(VEGA)
	$(SMOKE_ENV) $(BIN)/jupyter-book build . --path-output _build/smoke -W --keep-going
	@echo "Smoke build (not for publishing): $(CURDIR)/$(SMOKE_SITE)/index.html"

## unit: aecore's tests (chapters they run with other parameters run in smoke mode)
unit: $(STAMP)
	$(SMOKE_ENV) $(BIN)/python -m pytest tests --ignore=tests/site -n 2

## site-test: the smoke-built site in a real browser
site-test: $(STAMP) $(AXE)
	$(BIN)/python -m pytest tests/site --site $(SMOKE_SITE)

## lab: JupyterLab on the notebooks
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

# MathJax is served with the site so that formulas render offline (no CDN).
$(MATHJAX):
	rm -rf book/_static/mathjax .mathjax-tmp && mkdir -p .mathjax-tmp book/_static/mathjax
	cd .mathjax-tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	tar xzf .mathjax-tmp/mathjax-$(MATHJAX_VERSION).tgz -C .mathjax-tmp \
	    package/es5/tex-chtml.js package/es5/input package/es5/output/chtml package/es5/ui \
	    package/es5/a11y package/es5/sre
	cp -r .mathjax-tmp/package/es5/. book/_static/mathjax/
	rm -rf .mathjax-tmp

# Vega, Vega-Lite and vega-embed, which draw the interactive figures (aecore/interactive.py),
# served with the site like MathJax: book/_ext/book_fixes.py points the figures' script URLs
# at _static/vega/NAME-VERSION/NAME.min.js. Fetched again when a version changes.
$(VEGA):
	rm -rf book/_static/vega .vega-tmp && mkdir -p .vega-tmp
	cd .vega-tmp && npm pack --silent vega@$(VEGA_VERSION) vega-lite@$(VEGALITE_VERSION) \
	    vega-embed@$(VEGAEMBED_VERSION) >/dev/null
	for p in vega-$(VEGA_VERSION) vega-lite-$(VEGALITE_VERSION) vega-embed-$(VEGAEMBED_VERSION); do \
	    mkdir -p .vega-tmp/$$p book/_static/vega/$$p && tar xzf .vega-tmp/$$p.tgz -C .vega-tmp/$$p && \
	    cp .vega-tmp/$$p/package/build/$${p%-*}.min.js .vega-tmp/$$p/package/package.json \
	        book/_static/vega/$$p/ && \
	    { cp .vega-tmp/$$p/package/LICENSE book/_static/vega/$$p/ 2>/dev/null || true; } || exit 1; \
	done
	rm -rf .vega-tmp
	touch $@

# axe-core (Deque's accessibility engine), injected into every page by the browser test;
# fetched again when AXE_VERSION changes.
$(AXE):
	rm -rf tests/site/axe-core .axe-tmp && mkdir -p .axe-tmp tests/site/axe-core
	cd .axe-tmp && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null
	tar xzf .axe-tmp/axe-core-$(AXE_VERSION).tgz -C .axe-tmp \
	    package/axe.min.js package/LICENSE package/package.json
	cp .axe-tmp/package/axe.min.js .axe-tmp/package/LICENSE .axe-tmp/package/package.json \
	    tests/site/axe-core/
	rm -rf .axe-tmp
	touch $@

clean-smoke:
	rm -rf _build/smoke

clean:
	rm -rf _build
