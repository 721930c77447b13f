"""The jinja environment: `!{{ }}` is ours so GitHub's `${{ }}` passes through untouched, and
every value reaches YAML through the `yaml` filter."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

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
    return value if _reads_back_plain(value) else json.dumps(value, ensure_ascii=False)


@cache  # a workflow repeats the same labels, paths and commands many times
def _reads_back_plain(value: str) -> bool:
    try:
        return "\n" not in value and yaml.load(f"k: {value}", Loader=SafeLoader) == {"k": value}
    except yaml.YAMLError:
        return False


def _load_template(name: str) -> tuple[str, str, Callable[[], bool]]:
    """Source, file name (for tracebacks) and an always-fresh check: templates never change
    while cigen runs."""
    resource = resources.files(TEMPLATE_PACKAGE).joinpath(name)
    return resource.read_text(encoding="utf-8"), str(resource), lambda: True


def _bytecode_cache(cache_dir: Path | None) -> jinja2.BytecodeCache | None:
    """Compiled templates under `cache_dir`, in a folder named after this module's source and
    jinja's version: jinja keys them by template text only, and how they compile is set here.
    None when not writable."""
    if cache_dir is None:
        return None
    digest = hashlib.blake2b(Path(__file__).read_bytes() + jinja2.__version__.encode(), digest_size=8).hexdigest()
    folder = cache_dir / f"templates-{digest}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder)) if os.access(folder, os.W_OK) else None


@cache
def environment(cache_dir: Path | None = None) -> jinja2.Environment:
    """StrictUndefined, no autoescape; `chomp` drops the newline a macro's block ends with (the
    calling line has its own). With `cache_dir`, compiled templates are kept there between runs."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        variable_start_string="!{{",
        variable_end_string="}}",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=_bytecode_cache(cache_dir),
    )
    env.filters["yaml"] = yaml_value
    env.filters["chomp"] = lambda block: block.removesuffix("\n")
    return env


def render_template(template: str, context: dict, cache_dir: Path | None = None) -> str:
    """One template, checked for its `@generated` header and parsed back as a YAML mapping."""
    text = environment(cache_dir).get_template(template).render({"template": template, **context})
    first, second = (text.splitlines() + ["", ""])[:2]
    if first != f"{GENERATED_MARK}{template}. DO NOT EDIT." or not second.startswith("# Regenerate: "):
        raise AssertionError(f"{template} does not start with the @generated header")
    if not _parses_as_mapping(text, cache_dir):
        raise AssertionError(f"{template} rendered something that is not a YAML mapping")
    return text


def _parses_as_mapping(text: str, cache_dir: Path | None) -> bool:
    """The text is one YAML mapping. A text that passed is remembered under `cache_dir` (an empty
    file named after its hash and PyYAML's version), so a warm `check` does not parse it again."""
    marker = None
    if cache_dir is not None:
        digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        marker = cache_dir / f"yaml-mappings-{yaml.__version__}" / digest
        if marker.is_file():
            return True
    if not isinstance(yaml.compose(text, Loader=SafeLoader), yaml.MappingNode):  # parsed, not built: faster
        return False
    if marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass  # an unwritable cache costs speed only
    return True
