# vmlab: the two commands a user needs are `make lab` and `make test`.
# Both install what they need first (Debian packages from binder/apt.txt, Python
# packages from pyproject.toml), so they work on a fresh Debian machine with Python.

PYTHON ?= python3
PIP    ?= $(PYTHON) -m pip
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := $(shell grep -v '^\s*\#' binder/apt.txt)
JOBS   ?= 2

.PHONY: lab test deps apt pydeps bench clean

lab: deps
	$(PYTHON) -m vmlab demo

test: deps
	$(PYTHON) -m pytest -n $(JOBS) --dist loadgroup

deps: apt pydeps

# Skip apt when every package is already installed (no root needed then).
apt:
	@if dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then echo "apt packages present"; \
	else $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(APT_PACKAGES); fi

pydeps:
	$(PIP) install -q -e '.[test]'

bench: deps
	$(PYTHON) -m vmlab bench

clean:
	rm -rf build dist *.egg-info .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
