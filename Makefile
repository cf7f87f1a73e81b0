# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test venv lint bench package clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[gui,test,test-gui,dev,bench,docker,kubernetes,github,ollama,data,package]'
	touch $(STAMP)

venv: $(STAMP)

# The system libraries the window needs (Qt's xcb plug-in, fonts, a keyring), as Debian names them.
GUI_DEPS := libgl1 libegl1 libfontconfig1 libdbus-1-3 libglib2.0-0 libxkbcommon0 fonts-dejavu-core libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xkb1

## Launch qtqueue on the embedded queue in the user data directory (the libraries the window
## needs are installed as root on Debian, or named if missing; no display: it says what to do).
run: $(STAMP)
	bash .ci/system-deps $(GUI_DEPS)
	$(VENV)/bin/qtqueue

## Install what the tests need (system packages too, as root) and run every test.
test: $(STAMP)
	bash .ci/system-deps $(GUI_DEPS) gnome-keyring dbus dbus-x11 xvfb xauth wmdocker docker.io docker-registry busybox-static apache2-utils webhook nmap iproute2 chromium chromium-driver prometheus redis-server desktop-file-utils appstream
	test -x $(VENV)-vastai/bin/vastai || { $(PYTHON) -m venv $(VENV)-vastai && $(VENV)-vastai/bin/pip install -q vastai==1.9.1; }
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check qtqueue tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## Build the Linux packages into dist/: the bundle (dist/qtqueue/), the .deb and the .tar.gz.
package: $(STAMP)
	$(PY) packaging/build.py --dist dist --work build

bench: $(STAMP)
	$(PY) bench/engine.py
	$(PY) bench/cli.py
	$(PY) bench/http_api.py

clean:
	rm -rf $(VENV) $(VENV)-vastai .pytest_cache .mypy_cache .ruff_cache
