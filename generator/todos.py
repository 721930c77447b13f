"""TODO marks in a config text: placed above the keys they are about, and listed back.

`cigen init` marks every decision only the maintainer can make (which runners, which events,
what the required check does, the repository variables and secrets the jobs read) with a
`# TODO: ...` comment line, and prints the list, so nothing is left to be found by reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import yaml

TODO = re.compile(r"#\s*TODO:\s*(.*)$")
VARIABLES = "Settings > Secrets and variables > Actions > Variables"
SECRETS = "Settings > Secrets and variables > Actions > Secrets"


@dataclass(frozen=True)
class Todo:
    line: int  # 1-based, in the text it was found in
    text: str


@dataclass(frozen=True)
class Mark:
    """A TODO above the key at `path` (keys from the top; () for the top of the file)."""

    path: tuple[str, ...]
    text: str


def find_todos(text: str) -> list[Todo]:
    """Every `# TODO: ...` comment of a text, in line order (inline ones too)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = TODO.search(line)
        if match:
            found.append(Todo(number, match.group(1).strip()))
    return found


def _key_line(root: yaml.Node, path: tuple[str, ...]) -> int:
    """The 0-based line of the last key of `path` in a composed document (0 for the empty path)."""
    node, line = root, 0
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            raise KeyError(f"{'.'.join(path)}: {key!r} is not under a mapping")
        for key_node, value in node.value:
            if key_node.value == key:
                node, line = value, key_node.start_mark.line
                break
        else:
            raise KeyError(f"{'.'.join(path)}: no key {key!r}")
    return line


def _pairs(node: yaml.Node, seen: set[int]) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """Every (key, value) of every mapping under `node`, each mapping once (aliases share nodes)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key, value
            yield from _pairs(value, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _pairs(item, seen)


def _scalar(node: yaml.Node, key: str) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if key_node.value == key and isinstance(value, yaml.ScalarNode):
                return value.value
    return None


def repository_settings(root: yaml.Node) -> list[tuple[int, str]]:
    """(0-based line, TODO) for each repository variable (`{var: NAME}`) and secret (`secrets:`) the
    config hands to jobs, once each: the repository must define them, and cigen cannot."""
    found, named = [], set()
    for key, value in _pairs(root, set()):
        name = _scalar(value, "var")
        if name is not None and name not in named:  # once, where it is first named
            named.add(name)
            default = _scalar(value, "default")
            unset = f"unset, {key.value} is {default!r}" if default is not None else f"unset, {key.value} is empty"
            found.append((key.start_mark.line, f"set the repository variable {name} ({VARIABLES}; {unset})"))
        if key.value == "secrets" and isinstance(value, yaml.MappingNode):
            for env, secret in value.value:
                if secret.value in named:
                    continue
                named.add(secret.value)
                found.append(
                    (
                        env.start_mark.line,
                        f"create the secret {secret.value} ({SECRETS}); the jobs read it as {env.value}",
                    )
                )
    return found


def mark_todos(text: str, marks: Sequence[Mark]) -> str:
    """`text` with a `# TODO: ...` line above each mark's key (indented as the key's line) and above
    each repository variable and secret it names; nothing else changes."""
    root = yaml.compose(text)
    lines = text.splitlines(keepends=True)
    above: dict[int, list[str]] = {}
    placed = [(_key_line(root, mark.path), mark.text) for mark in marks]
    for line, todo in [*placed, *repository_settings(root)]:
        above.setdefault(line, []).append(todo)
    out = []
    for number, line in enumerate(lines):
        indent = line[: len(line) - len(line.lstrip())] if number else ""
        out.extend(f"{indent}# TODO: {todo}\n" for todo in above.get(number, []))
        out.append(line)
    return "".join(out)
