"""README.md names only what exists: every `cigen` command, every repository path."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys

from generator.cli import cli
from generator.shipped import run_shard
from tests.support.rendering import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
# Paths in the user's repository (what cigen writes under .github/, sglang's own files): not ours to check.
USER_PATHS = (".github/", "workflows/", "cigen/", "test/", "registered/", "scripts/ci/", "src/", "tests/**", "python/")


GENERATED_NAMES = {
    "actionlint.yaml",
    "plan.json",
    "results.json",
    "cigen.yml",
    "model.json",
}  # names of outputs and examples


def test_every_cigen_command_the_readme_names_exists():
    inline = re.findall(r"`cigen ([a-z][a-z-]*)", README)  # `cigen lint`, `cigen run-shard ...`
    blocks = re.findall(r"^(?:\$ )?cigen ([a-z][a-z-]*)", README, flags=re.M)  # command lines in code blocks
    named = set(inline) | set(blocks)
    known = set(cli.list_commands(None))
    groups = {name: cli.get_command(None, name) for name in known}
    assert named <= known, sorted(named - known)
    for line in re.findall(r"^cigen rerun ([a-z|]+)", README, flags=re.M):
        assert set(line.split("|")) <= set(groups["rerun"].commands), line
    for sub in re.findall(r"cigen timings ([a-z]+)", README):
        assert sub in groups["timings"].commands, sub
    assert {"init", "lint", "render", "check", "timings", "mem", "rerun"} <= named


def test_every_repository_path_the_readme_names_exists():
    quoted = re.findall(
        r"`([A-Za-z0-9_.][A-Za-z0-9_./*-]*/[A-Za-z0-9_./*-]*|[A-Za-z0-9_-]+\.(?:py|yml|yaml|md|json|toml))`", README
    )
    checked = []
    for path in quoted:
        if path.startswith(USER_PATHS) or "<" in path or path.startswith("cigen-"):
            continue
        if path in GENERATED_NAMES or path.startswith("test_"):  # outputs' names, sglang's test files
            continue
        if path.startswith("../"):  # beside the checkout (the team's shared corpus), not in it
            continue
        if "*" in path:
            assert list(REPO_ROOT.glob(path)), path
        else:
            assert (REPO_ROOT / path).exists() or (REPO_ROOT / "generator" / path).exists(), path
        checked.append(path)
    assert len(checked) >= 30


def code_blocks(text: str) -> list[list[str]]:
    blocks, current = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def examples(text: str) -> list[tuple[str, list[str]]]:
    """Every `$ cigen ...` line of a code block, with the output lines printed under it."""
    found = []
    for block in code_blocks(text):
        for index, line in enumerate(block):
            if line.startswith("$ cigen "):
                rest = block[index + 1 :]
                end = next((i for i, later in enumerate(rest) if later.startswith("$ ")), len(rest))
                found.append((line[2:], rest[:end]))
    return found


def test_every_readme_example_runs_in_cigens_checkout_and_prints_what_it_shows(update_golden):
    """Each `$ cigen ...` example runs, as written, in this checkout; its output is the README's."""
    text, fresh = README, README
    shown = examples(README)
    assert shown, "the README shows no `$ cigen ...` example"
    for command, output in shown:
        argv = [sys.executable, "-m", "generator", *shlex.split(command)[1:]]
        done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        printed = done.stdout.rstrip("\n").splitlines()
        fresh = fresh.replace("\n".join([f"$ {command}", *output]), "\n".join([f"$ {command}", *printed]), 1)
    if update_golden:
        (REPO_ROOT / "README.md").write_text(fresh)
        return
    assert text == fresh, "a README example prints something else now: pytest tests/test_readme.py --update-golden"


def argparse_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option of `parser` and its subcommands (`cigen run-shard` forwards to the shipped runner's)."""
    names = set()
    for action in parser._actions:
        names |= set(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                names |= argparse_options(sub)
    return names


def test_every_synopsis_line_names_only_options_its_command_has():
    """The `cigen ...` synopsis lines (not run: they hold placeholders) name real options."""
    lines = [line for block in code_blocks(README) for line in block if line.startswith("cigen ")]
    assert len(lines) >= 15
    for line in lines:
        words = line.split("#")[0].split()
        command = cli.get_command(None, words[1])
        assert command is not None, line
        names = argparse_options(run_shard.build_parser()) if words[1] == "run-shard" else set()
        for each in [command, *getattr(command, "commands", {}).values()]:
            names |= {opt for param in each.params for opt in getattr(param, "opts", [])}
        named = {re.sub(r"[^\w-].*$", "", word.lstrip("[(")) for word in words if word.lstrip("[(").startswith("--")}
        assert named <= names, (line, sorted(named - names))
