# tfinterp developer entry points. Both targets are idempotent: they create or update
# .venv only when pyproject.toml changed, then run.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= demo_out

.PHONY: demo test venv venv-test clean

$(VENV)/.stamp-base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.stamp-base

venv: $(VENV)/.stamp-base
venv-test: $(VENV)/.stamp-test

demo: $(VENV)/.stamp-base
	$(VENV)/bin/tfinterp explain saved_models/samples/clutter64_0.png \
	    --model vggsmall_clutter64 --method guided-inversion --out $(OUT)
	@echo "demo: heatmap and JSON summary written under $(OUT)/"

test: $(VENV)/.stamp-test
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info
