"""JSON inputs with line numbers for messages: parsed fast, walked again only to place a problem."""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.decoder import scanstring
from pathlib import Path

from generator.errors import Problem, UserError

_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"

Pointer = Sequence[str | int]  # keys and list indexes from the top of the document


def read_json(path: Path, code: str) -> tuple[object, str]:
    """The document and its text; unreadable or invalid JSON is a UserError at its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(str(path), 0, code, f"cannot read: {error}") from None
    try:
        return json.loads(text), text
    except json.JSONDecodeError as error:
        raise UserError(str(path), error.lineno, code, f"invalid JSON: {error.msg} (column {error.colno})") from None


def line_of(text: str, pointer: Pointer) -> int:
    """1-based line where the value at `pointer` starts (or its closest ancestor that exists)."""
    position = _skip_space(text, 0)
    for step in pointer:
        inner = _child_start(text, position, step)
        if inner is None:
            break
        position = inner
    return text.count("\n", 0, position) + 1


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in _SPACE:
        position += 1
    return position


def _child_start(text: str, position: int, step: str | int) -> int | None:
    """Where member `step` of the object or array at `position` starts; None if absent."""
    opener = text[position : position + 1]
    if opener not in ("{", "["):
        return None
    position = _skip_space(text, position + 1)
    index = 0
    while position < len(text) and text[position] not in "}]":
        key: str | int = index
        if opener == "{":
            key, position = scanstring(text, position + 1)
            position = _skip_space(text, _skip_space(text, position) + 1)  # past ':'
        if key == step:
            return position
        _, position = _DECODER.raw_decode(text, position)
        position = _skip_space(text, position)
        if text[position : position + 1] == ",":
            position = _skip_space(text, position + 1)
        index += 1
    return None


def schema_problems(data: object, text: str, schema: dict, source: str, code: str) -> list[Problem]:
    """Every JSON-Schema violation of `data`, each at the line of the offending value; a
    subschema's `description` says what was expected instead of the validator's wording."""
    problems = []
    import jsonschema  # only commands that validate a JSON input pay for it

    for error in jsonschema.Draft202012Validator(schema).iter_errors(data):
        pointer = tuple(error.absolute_path)
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in pointer).lstrip(".") or "top level"
        expected = error.schema.get("description") if isinstance(error.schema, dict) else None
        message = f"{error.instance!r} is not {expected}" if expected else error.message
        problems.append(Problem(source, line_of(text, pointer), code, f"{where}: {message}"))
    return problems
