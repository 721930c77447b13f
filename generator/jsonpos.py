"""JSON inputs with line numbers for messages: parsed fast, walked again only to place a problem."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from json.decoder import scanstring
from pathlib import Path

from generator.errors import Problem, UserError

_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"
MAX_INT_DIGITS = 100  # Python refuses over 4,300 with a ValueError; no count cigen reads is longer than a few
MAX_DEPTH = 64  # nesting of arrays and objects: cigen's JSON inputs need a handful; more is hostile
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")

Pointer = Sequence[str | int]  # keys and list indexes from the top of the document


def read_json(path: Path, code: str) -> tuple[object, str]:
    """The document and its text; unreadable or invalid JSON is a UserError at its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(str(path), 0, code, f"cannot read: {error}") from None
    return parse_json(text, str(path), code), text


def parse_json(text: str, source: str, code: str) -> object:
    """Strict JSON: NaN and Infinity (which Python accepts, JSON does not) and nesting deeper than
    MAX_DEPTH are refused before any number reaches arithmetic or the parser recurses."""
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise UserError(source, 0, code, f"nested {depth} levels deep; at most {MAX_DEPTH} are read")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_short_int)
    except json.JSONDecodeError as error:
        raise UserError(source, error.lineno, code, f"invalid JSON: {error.msg} (column {error.colno})") from None
    except _Refused as error:
        raise UserError(source, 0, code, error.args[0]) from None


class _Refused(ValueError):
    """A number the parser would accept and cigen does not; its message says why."""


def _not_finite(text: str) -> _Refused:
    return _Refused(f"{text[:40]} is not a finite number (JSON has no NaN or Infinity)")


def _refuse_constant(name: str) -> object:
    raise _not_finite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 overflows to inf without ever spelling it
        raise _not_finite(text)
    return value


def _short_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {digits:,} digits; at most {MAX_INT_DIGITS} are read")
    return int(text)


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects outside strings (the text need not be valid JSON)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


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
