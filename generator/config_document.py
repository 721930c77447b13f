"""`cigen.yml` -> a schema-valid document: YAML with the line of every key, JSON-Schema validation.

With no config file the embedded default (generator/data/cigen.yml, sglang's layout) is read.
A text that passed the YAML and schema steps once is remembered (its data and lines, as JSON,
keyed by a hash of its text and the schema) in the scan cache's folder, so a warm command
neither parses YAML nor imports jsonschema. generator/config.py builds the typed Config from
the document; `cigen scan`, which needs only the test globs, reads them here without it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from generator.atomic import write_text_atomic
from generator.backends import BACKENDS
from generator.config_fields import OUTPUT_NAMES, TESTS, TOP, annotate_schema
from generator.errors import Problem, ProblemReport, UserError, plural

if TYPE_CHECKING:
    import jsonschema

CONFIG_NAME = "cigen.yml"
# generator/data/, read as plain files (as pip installs them): importlib.resources would add
# about 5 ms to every command's start, most of a warm `cigen scan`'s budget.
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SOURCE = "<embedded default cigen.yml>"
YamlPath = tuple  # a location in the YAML document: keys and indexes from the top


@dataclass
class Document:
    """Parsed YAML plus the line of every key and item, for messages."""

    source: str
    data: object
    lines: dict[YamlPath, int]

    def line(self, path: YamlPath) -> int:
        """Line of `path`, or of its closest ancestor that has one."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: YamlPath, code: str, message: str, help: str | None = None) -> Problem:
        return Problem(self.source, self.line(path), code, message, help=help)


def read_yaml(text: str, source: str) -> Document:
    """The YAML document with the line of every key and item; syntax errors and duplicate
    keys are problems at their line. Parsed with libyaml where PyYAML has it; a syntax error
    is reported by the pure-Python parser, whose messages are the same everywhere."""
    import yaml

    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return _compose(text, source, fast)
        except UserError as error:
            if error.problem.code != "config-yaml":
                raise
    return _compose(text, source, yaml.SafeLoader)


def _compose(text: str, source: str, loader_class: type) -> Document:
    import yaml

    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        lines: dict[YamlPath, int] = {}
        duplicates: list[Problem] = []

        def build(node: yaml.Node, path: YamlPath) -> object:
            lines.setdefault(path, node.start_mark.line + 1)
            if isinstance(node, yaml.MappingNode):
                loader.flatten_mapping(node)
                mapping: dict = {}
                for key_node, value_node in node.value:
                    key = loader.construct_object(key_node, deep=True)
                    if not isinstance(key, (str, int, float, bool)) or key is None:
                        raise UserError(
                            source, key_node.start_mark.line + 1, "config-yaml", "keys must be plain scalars"
                        )
                    if key in mapping:
                        duplicates.append(
                            Problem(
                                source,
                                key_node.start_mark.line + 1,
                                "config-duplicate-key",
                                f"key '{key}' appears twice",
                            )
                        )
                    lines[path + (key,)] = key_node.start_mark.line + 1
                    mapping[key] = build(value_node, path + (key,))
                return mapping
            if isinstance(node, yaml.SequenceNode):
                return [build(child, path + (index,)) for index, child in enumerate(node.value)]
            return loader.construct_object(node, deep=True)

        data = build(root, ()) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise UserError(source, line, "config-yaml", f"invalid YAML: {error.problem or error.context}") from None
    finally:
        loader.dispose()
    if duplicates:
        raise ProblemReport(duplicates, f"{plural(len(duplicates), 'error')} in {source}")
    return Document(source, data, lines)


@cache
def schema() -> dict:
    """cigen.schema.json, with the backend names filled in from generator/backends.py, the
    workflow outputs whose file names may be set from OUTPUT_NAMES, and every key's default and
    description from generator/config_fields.py."""
    loaded = json.loads(_schema_text())
    loaded["$defs"]["backend"]["enum"] = [backend.name for backend in BACKENDS]
    files = loaded["properties"]["workflows"]["properties"]["files"]
    files["properties"] = {name: {"$ref": "#/$defs/workflow_file"} for name in OUTPUT_NAMES}
    annotate_schema(loaded)
    return loaded


def _schema_problems(doc: Document) -> list[Problem]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for error in validator.iter_errors(doc.data):
        path = tuple(error.absolute_path)
        where = ".".join(str(p) for p in path) or "top level"
        message = error.message
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = error.schema.get("properties", {})
            extras = sorted(str(k) for k in error.instance if k not in known)
            if extras:
                path = path + (extras[0],)
                message = f"unknown key{'s' if len(extras) > 1 else ''} {', '.join(map(repr, extras))}"
                if known:
                    message += f" (known: {', '.join(sorted(known))})"
        elif error.validator == "not" and isinstance(error.instance, dict):
            message = "give either runner_config or pools, not both"
        elif error.validator == "oneOf" and error.schema == schema()["$defs"]["env"]["additionalProperties"]:
            message = _env_value_message(error)
        elif "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
            path = path + (error.instance,)  # the bad key's own line
            message = f"key {error.message}"
        problems.append(doc.problem(path, "config-schema", f"{where}: {message}"))
    return problems


def _env_value_message(error: jsonschema.ValidationError) -> str:
    """What an env value may be, and what is wrong with a {var: ...} one (the schema's oneOf says neither)."""
    message = "an env value is text, a number, true/false, or {var: REPOSITORY_VARIABLE, default: text}"
    if isinstance(error.instance, dict):
        details = sorted(sub.message for sub in error.context if sub.relative_schema_path[0] == 1)
        message += f"; here {'; '.join(details)}"
    return message


# Keys a config written before a rename may still have -> their new names (the timings rename).
RENAMED_KEYS: dict[YamlPath, str] = {
    ("workflows", "calibrate"): "workflows.timings",
    ("workflows", "files", "calibrate"): "workflows.files.timings",
}


def _has_key(data: object, path: YamlPath) -> bool:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def valid_document(text: str, source: str) -> Document:
    """YAML -> a document the schema accepts, else every problem with its line."""
    doc = read_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise UserError(source, 1, "config-schema", "the config must be a mapping (version, pools, suites, ...)")
    for old, new in RENAMED_KEYS.items():
        if _has_key(doc.data, old):
            dotted = ".".join(old)
            raise UserError(source, doc.line(old), "config-renamed", f"{dotted} is now {new}")
    problems = _schema_problems(doc)
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {source}")
    return doc


_DOCUMENT_FORMAT = "config-document-1"


@cache
def _schema_text() -> str:
    return (DATA_DIR / "cigen.schema.json").read_text(encoding="utf-8")


def cached_document(text: str, source: str, cache_dir: Path) -> Document:
    """The schema-valid document from the cache when this text passed before (under the same
    schema), else parsed, validated and stored; only a valid document is ever stored."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (_DOCUMENT_FORMAT, json.dumps(schema(), sort_keys=True), text):
        digest.update(part.encode() + b"\0")
    path = cache_dir / f"config-{digest.hexdigest()}.json"
    try:
        stored = json.loads(path.read_text())
        return Document(source, stored["data"], {tuple(where): line for where, line in stored["lines"]})
    except (OSError, ValueError, KeyError, TypeError):
        pass
    doc = valid_document(text, source)
    if not _json_safe(doc.data):
        return doc
    lines = [[list(where), line] for where, line in doc.lines.items()]
    try:
        write_text_atomic(path, json.dumps({"data": doc.data, "lines": lines}, separators=(",", ":")))
    except (OSError, TypeError, ValueError):
        pass  # an unwritable cache (or data JSON cannot hold) only costs speed
    return doc


def _json_safe(value: object) -> bool:
    """JSON gives back exactly this value: string keys, plain scalars."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and _json_safe(child) for key, child in value.items())
    if isinstance(value, list):
        return all(_json_safe(child) for child in value)
    return value is None or isinstance(value, (str, int, float, bool))


def default_config_text() -> str:
    return (DATA_DIR / "cigen.yml").read_text(encoding="utf-8")


def read_document(path: Path | None, root: Path, cache_dir: Path | None = None) -> Document:
    """The config at `path`, else `root/cigen.yml`, else the embedded default, as a schema-valid
    document. With `cache_dir`, a text that validated before is not parsed or validated again."""
    if path is None and (root / CONFIG_NAME).is_file():
        path = root / CONFIG_NAME
    if path is None:
        text, source = default_config_text(), DEFAULT_SOURCE
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(str(path), 0, "config-unreadable", f"cannot read config: {error}") from None
        source = str(path)
    return document(text, source, cache_dir)


def document(text: str, source: str, cache_dir: Path | None = None) -> Document:
    """A config's text as a schema-valid document (remembered under `cache_dir`, when given)."""
    return valid_document(text, source) if cache_dir is None else cached_document(text, source, cache_dir)


@dataclass(frozen=True)
class ScanGlobs:
    """The config's `tests:` section, the files a scan reads: what `cigen scan` needs, without building a Config."""

    source: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    include_line: int


def scan_globs(doc: Document) -> ScanGlobs:
    """`tests.include` and `tests.exclude` of a schema-valid document, with their defaults."""
    tests = TOP.get(doc.data, "tests")
    return ScanGlobs(
        doc.source,
        tuple(TESTS.get(tests, "include")),
        tuple(TESTS.get(tests, "exclude")),
        doc.line(("tests", "include")),
    )
