"""The jinja environment: `!{{ }}` is ours so GitHub's `${{ }}` passes through untouched, and
every value reaches YAML through the `yaml` filter."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources

import jinja2
import yaml

from generator.names import GENERATED_MARK

TEMPLATE_PACKAGE = "generator.templates"  # the repo's top-level templates/ (pyproject.toml maps it)
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the same safe loader, in C when built


def yaml_value(value: object) -> str:
    """A value as one line of YAML: a string plain where YAML reads it back as the same string
    (easier to review), else double-quoted; lists and numbers in JSON's flow style."""
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    try:
        plain = "\n" not in value and yaml.load(f"k: {value}", Loader=SafeLoader) == {"k": value}
    except yaml.YAMLError:
        plain = False
    return value if plain else json.dumps(value, ensure_ascii=False)


def _load_template(name: str) -> tuple[str, str, Callable[[], bool]]:
    """Source, file name (for tracebacks) and an always-fresh check: templates never change
    while cigen runs."""
    resource = resources.files(TEMPLATE_PACKAGE).joinpath(name)
    return resource.read_text(encoding="utf-8"), str(resource), lambda: True


@cache
def environment() -> jinja2.Environment:
    """StrictUndefined, no autoescape; `chomp` drops the newline a macro's block ends with (the
    calling line has its own)."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        variable_start_string="!{{",
        variable_end_string="}}",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["yaml"] = yaml_value
    env.filters["chomp"] = lambda block: block.removesuffix("\n")
    return env


def render_template(template: str, context: dict) -> str:
    """One template, checked for its `@generated` header and parsed back as a YAML mapping."""
    text = environment().get_template(template).render({"template": template, **context})
    first, second = (text.splitlines() + ["", ""])[:2]
    if first != f"{GENERATED_MARK}{template}. DO NOT EDIT." or not second.startswith("# Regenerate: "):
        raise AssertionError(f"{template} does not start with the @generated header")
    if not isinstance(yaml.load(text, Loader=SafeLoader), dict):
        raise AssertionError(f"{template} rendered something that is not a YAML mapping")
    return text
