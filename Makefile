# flowsim developer tasks. `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow lint typecheck unit bench system-deps node-deps pg-deps install clean pictures editor

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,test]'
	touch $(STAMP)

install: $(STAMP)

# Graphviz's `dot` and a CJK font, from Debian packages, when missing.
system-deps:
	@bash scripts/system-deps.sh

# Node.js + npm (Debian packages) when missing, and tests/js's pinned mermaid/jsdom (npm ci).
node-deps:
	@bash scripts/node-deps.sh

# PostgreSQL (Debian's package) when missing: tests/history/test_sql.py starts a throwaway server.
pg-deps:
	@bash scripts/postgres.sh install

demo: install system-deps
	$(BIN)/flowsim check -q examples/b2b-cn.flow
	$(BIN)/flowsim run examples/b2b-cn.flow --history examples/history/b2b-cn-deals.csv \
		--tz Asia/Shanghai --objective cycle -o out/report
	@echo "demo: open out/report/index.html in a browser (Markdown: out/report/report.md)"

# The pictures the README shows; tests/render/test_pictures.py checks they are current.
pictures: install system-deps
	$(BIN)/python scripts/pictures.py

lint: install
	$(BIN)/ruff check flowsim tests bench
	$(BIN)/ruff format --check flowsim tests bench

typecheck: install
	$(BIN)/mypy flowsim

unit: install system-deps node-deps pg-deps
	$(BIN)/pytest -q --durations=25

test: lint typecheck unit

# The tests marked slow (long statistical runs, see tests/sim/test_queueing.py): not in `make test`.
test-slow: install
	$(BIN)/pytest -q -m slow

bench: install system-deps
	$(BIN)/python bench/bench_language.py
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_sim.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis out

# The studio's editor (CodeMirror 6): `npm ci` from flowsim/studio/editor/package-lock.json,
# esbuild → flowsim/studio/static/editor.js + editor.LICENSES.txt, and the hover help from
# docs/language.md. The results are committed, so `make test` and CI need no npm for them.
editor: install
	cd flowsim/studio/editor && npm ci --no-audit --no-fund && node build.mjs
	$(BIN)/python scripts/build_editor_help.py
	$(BIN)/ruff format flowsim/studio/keyword_help.py
