# vmlab: the two commands a user needs are `make lab` and `make test`.
# Both install what they need first -- Debian packages (with sudo when not root), Python
# packages from pyproject.toml into a virtual environment in .venv -- so they work on a
# fresh Debian machine with Python.
#
# Debian packages come from three lists, one name a line ('#' starts a comment):
#   binder/apt.txt  what a student's session needs (Binder installs the same list)
#   .ci/apt.txt     the test oracles, installed by `make test` only
#   MAKE_APT below  what make itself needs to build .venv
#
# `make test PY=/path/to/python` runs the tests with an existing environment as it is
# (nothing is installed into it); the checkout itself is put first on PYTHONPATH.

PYTHON ?= python3
VENV   ?= .venv
PY     ?= $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JOBS   ?= 2

MAKE_APT    := python3-venv
apt_list     = $(shell awk '/^[a-z0-9]/ {print $$1}' $(1))
LAB_APT     := $(MAKE_APT) $(call apt_list,binder/apt.txt)
TEST_APT    := $(LAB_APT) $(call apt_list,.ci/apt.txt)

.PHONY: lab demo test deps test-deps apt-lab apt-test pydeps bench binder-check clean

lab: deps
	$(PY) -m vmlab.notebook.lab labs/00-welcome.ipynb

demo: deps
	$(PY) -m vmlab demo

test: test-deps
	PYTHONPATH=$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH} $(PY) -m pytest -n $(JOBS)

deps: apt-lab pydeps
test-deps: apt-test pydeps

# Skip apt when every package is already installed (so no root is needed then).
define apt_install
	@if dpkg -s $(1) >/dev/null 2>&1; then echo "Debian packages: all present"; \
	else $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(1); fi
endef

apt-lab:
	$(call apt_install,$(LAB_APT))

apt-test:
	$(call apt_install,$(TEST_APT))

ifeq ($(origin PY),file)
# --system-site-packages: reuse what the system (or a Binder image) already has installed.
$(PY):
	$(PYTHON) -m venv --system-site-packages $(VENV)

pydeps: $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
else
pydeps:
	@echo "Python packages: using $(PY) as it is"
endif

bench: deps
	$(PY) -m vmlab bench

# Build the Binder image's environment the way repo2docker would (no Docker needed),
# then run the first lab in it; see binder/check.
binder-check:
	$(PYTHON) binder/check

clean:
	rm -rf build dist *.egg-info .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
