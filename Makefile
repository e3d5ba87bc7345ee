# vmlab: the two commands a user needs are `make lab` and `make test`.
# Both install what they need first -- Debian packages from binder/apt.txt (with sudo
# when not root), Python packages from pyproject.toml into a virtual environment in
# .venv -- so they work on a fresh Debian machine with Python.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := $(shell awk '/^[a-z0-9]/ {print $$1}' binder/apt.txt)
JOBS   ?= 2

.PHONY: lab demo test deps apt pydeps bench clean

lab: deps
	$(PY) -m vmlab.notebook.lab labs/00-welcome.ipynb

demo: deps
	$(PY) -m vmlab demo

test: deps
	$(PY) -m pytest -n $(JOBS)

deps: apt pydeps

# Skip apt when every package is already installed (so no root is needed then).
apt:
	@if dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then echo "Debian packages: all present"; \
	else $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(APT_PACKAGES); fi

# --system-site-packages: reuse what the system (or a Binder image) already has installed.
$(PY):
	$(PYTHON) -m venv --system-site-packages $(VENV)

pydeps: $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'

bench: deps
	$(PY) -m vmlab bench

clean:
	rm -rf build dist *.egg-info .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
