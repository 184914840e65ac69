# Setup is two commands: `make install`, then `make test`.
.PHONY: install test lint typecheck pytest editors run bench

install:
	tools/install.sh

# editors first: it packages the .vsix that the real VS Code tests in pytest install.
test: lint typecheck editors pytest

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck:
	.venv/bin/mypy completion engines lsp testbed bench tools

pytest:
	.venv/bin/python -m pytest -q -p no:cacheprovider

editors:
	@if [ -x editors/test.sh ]; then editors/test.sh; else echo "no editor clients to test yet"; fi

run:
	.venv/bin/dscoder-lsp --stdio

bench:
	.venv/bin/python bench/typing_simulation.py
