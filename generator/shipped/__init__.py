"""Programs the generated workflows run, copied into the repository instead of installed.

Every module here is standard library only (Python >= 3.9). `cigen render` copies each module a
rendered workflow needs, verbatim behind an `@generated` header, to `.github/cigen/<module>.py`,
so the jobs need no cigen install and the copies are reviewed and drift-checked like the workflows.

Two rules keep a copy identical to its source:
- A module imports a sibling only with a whole line `from generator.shipped import NAME` (or
  `NAME, NAME`, as isort merges them), which the copy reads as `import NAME` (the copy runs as
  `python3 .github/cigen/PROG.py`, whose folder is on `sys.path`). Rendering ships the closure of
  these imports (generator/render/shipping.py).
- The code is formatted at 88 columns (ruff.toml beside this file): black's and ruff-format's
  defaults, so a repository whose pre-commit formats Python leaves the copies unchanged.
"""
