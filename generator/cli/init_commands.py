"""init: a starter cigen.yml and the next steps."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli.common import reports_user_errors
from generator.errors import UserError, plural
from generator.init import TEMPLATES

# Where test files usually live; the first that holds a registration is used.
TEST_LAYOUTS = ("test/registered/**/*.py", "tests/**/*.py", "test/**/*.py")
EXCLUDE = ("**/conftest.py", "**/__init__.py")

NEXT_STEPS = """\
next:
  1. decide each TODO listed above in {config}, then delete its mark
  2. cigen lint     every finding about the tests and the config, one verdict each
  3. cigen render   writes .github/workflows/cigen-*.yml and .github/cigen/ (plan, runner, gate)
  4. commit .github/, and require the "Result" check (the finish job) in branch protection
  5. run `cigen check` in CI, so the committed files never go stale
  6. review the repository settings SECURITY.md lists (`cigen audit` checks them)"""


@click.command("init")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Repository root; cigen.yml is written there.",
)
@click.option(
    "--template",
    type=click.Choice(TEMPLATES),
    default="minimal",
    show_default=True,
    help="minimal: suites and pools from the tests found; sglang: sglang's CUDA CI (the embedded default).",
)
@click.option(
    "--tests", "include", metavar="GLOB", help="Where the test files are (default: the first common layout with tests)."
)
@reports_user_errors
def init_command(root: Path, template: str, include: str | None) -> None:
    """Write a starter cigen.yml (never over an existing one) and print the next steps."""
    from generator.atomic import write_text_atomic
    from generator.init import starter_config
    from generator.todos import find_todos
    from generator.tree import scan_tree

    config = root / "cigen.yml"
    if config.exists():
        raise UserError(
            str(config),
            0,
            "config-exists",
            "a cigen.yml is already here; init never replaces it",
            help="edit it, or remove it to start over",
        )
    if not root.is_dir():
        raise UserError(str(root), 0, "no-root", "not a directory", help="pass the repository root with --root")
    layouts = (include,) if include else TEST_LAYOUTS
    registrations, chosen = (), layouts[0]
    for layout in layouts:
        found = scan_tree(root, (layout,), EXCLUDE).registrations
        if found:
            registrations, chosen = found, layout
            break
    text = starter_config(template, chosen, registrations)
    write_text_atomic(config, text)
    files = len({r.path for r in registrations})
    click.echo(f"wrote {config} ({template}) for {plural(files, 'registered test file')} under {chosen}")
    todos = find_todos(text)
    click.echo(f"{plural(len(todos), 'TODO')} only you can decide:")
    for todo in todos:
        click.echo(f"  {config}:{todo.line}: {todo.text}")
    click.echo(NEXT_STEPS.format(config=config))
