# The two commands of the README: `make run` and `make test`.
# Each installs whatever is missing first (tools/setup.sh).
export QTWEBENGINE_CHROMIUM_FLAGS ?= --no-sandbox --disable-gpu

.PHONY: run test setup geodata bench lint

setup:
	@bash tools/setup.sh

run: setup
	.venv/bin/zjmap

test: setup
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q

geodata: setup
	.venv/bin/python -m pip install -q -r requirements-build.txt
	.venv/bin/python tools/build_geodata.py

bench: setup
	for b in benchmarks/*.py; do QT_QPA_PLATFORM=offscreen .venv/bin/python $$b; done
