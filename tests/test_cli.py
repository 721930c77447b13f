"""The command line: exit codes, output shapes, --help everywhere, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.cli.app import COMMANDS
from generator.config import load_config
from tests.support.files import write_files
from tests.support.rendering import GOLDEN

GOLDEN_CONFIG = GOLDEN / "tree" / "cigen.yml"

GOOD = 'register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)\n\nif __name__ == "__main__":\n    main()\n'


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_python_dash_m_and_console_script_are_the_same_cli():
    out = subprocess.run([sys.executable, "-m", "generator", "--help"], capture_output=True, text=True, check=True)
    assert out.stdout == run("--help").output.replace("Usage: cli", "Usage: cigen")
    assert "Usage: cigen [OPTIONS] COMMAND [ARGS]..." in out.stdout


def test_every_command_has_help_and_the_lazy_table_agrees():
    names = cli.list_commands(None)
    assert names == list(COMMANDS) and len(names) >= 9
    for name in names:
        command = cli.get_command(None, name)
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert command.help and command.help.split("\n")[0] in result.output
        assert COMMANDS[name].short_help == command.help.split("\n")[0], name  # what `cigen --help` lists


IMPORTS_PROBE = """
import sys
from generator.cli.app import cli
try:
    cli(sys.argv[1:], prog_name="cigen")
except SystemExit:
    pass
modules = ("jinja2", "jsonschema", "requests", "yaml", "generator.model", "generator.render")
print(",".join(sorted(m for m in modules if m in sys.modules)))
"""


@pytest.mark.parametrize(
    ("args", "loaded"),
    [
        (["--help"], ""),
        (["scan", "--help"], ""),
        (["mem", "--help"], ""),
        (["audit", "--help"], ""),
        (["scan", "--root", "TREE"], "jsonschema,yaml"),
    ],
)
def test_commands_load_only_what_they_use(tmp_path, args, loaded):
    write_files(tmp_path, {"test/registered/a.py": GOOD})
    args = [str(tmp_path) if arg == "TREE" else arg for arg in args]
    probe = subprocess.run([sys.executable, "-c", IMPORTS_PROBE, *args], capture_output=True, text=True, check=True)
    assert probe.stdout.splitlines()[-1] == loaded


def test_a_config_that_validated_before_is_neither_parsed_nor_validated_again(tmp_path):
    write_files(tmp_path, {"test/registered/a.py": GOOD, "cigen.yml": (GOLDEN_CONFIG).read_text()})
    probe = [sys.executable, "-c", IMPORTS_PROBE, "scan", "--root", str(tmp_path)]
    first = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.splitlines()
    second = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.splitlines()
    assert (first[-1], second[-1]) == ("jsonschema,yaml", "")
    assert first[:-1] == second[:-1] and "1 registration in 1 file" in first
    (tmp_path / "cigen.yml").write_text(
        (tmp_path / "cigen.yml").read_text().replace("setup_minutes: 2", "setup_minutes: 3")
    )
    third = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.splitlines()
    assert third[-1] == "jsonschema,yaml"  # an edit is a new text: parsed and validated again


def test_scan_json_has_sglang_field_names(tmp_path):
    write_files(tmp_path, {"test/registered/e2e/test_a.py": GOOD})
    result = run("scan", "--root", str(tmp_path), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {
            "file": "test/registered/e2e/test_a.py",
            "lineno": 1,
            "backend": "cuda",
            "est_time": 150.0,
            "suite": "nightly-1-gpu",
            "stage": None,
            "runner_config": None,
            "nightly": True,
            "disabled": None,
        }
    ]


def test_scan_table(tmp_path):
    write_files(tmp_path, {"test/registered/test_a.py": GOOD})
    result = run("scan", "--root", str(tmp_path))
    assert result.stdout.splitlines() == [
        "file                         backend  suite          est_s  nightly  disabled",
        "---------------------------  -------  -------------  -----  -------  --------",
        "test/registered/test_a.py:1  cuda     nightly-1-gpu  150    yes",
        "1 registration in 1 file",
    ]


def test_scan_errors_list_every_file_and_exit_2_without_output(tmp_path):
    write_files(
        tmp_path,
        {
            "test/registered/a.py": "register_cuda_ci(est_time='fast', suite='x')\n",
            "test/registered/b.py": "import os\n",
            "test/registered/ok.py": GOOD,
        },
    )
    result = CliRunner().invoke(cli, ["scan", "--root", str(tmp_path), "--format", "json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "test/registered/a.py:1: bad-est-time: register_cuda_ci(): est_time must be a number, got 'fast'",
        "test/registered/b.py:1: no-marker: no register_<backend>_ci(...) call at top level",
        "  help: register the file, e.g. register_cuda_ci(est_time=60, suite=...), "
        "or exclude it under tests.exclude in cigen.yml",
        "2 errors in 3 files; nothing printed.",
    ]


def test_bad_config_is_reported_without_traceback(tmp_path, monkeypatch):
    write_files(tmp_path, {"cigen.yml": "version: 2\n"})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["lint"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "cigen.yml:1: config-schema: top level: 'pools' is a required property",
        "cigen.yml:1: config-schema: top level: 'suites' is a required property",
        "cigen.yml:1: config-schema: version: 1 was expected",
        "3 errors in cigen.yml",
    ]


def test_scan_reads_the_test_globs_of_a_valid_config_and_lint_checks_the_rest(tmp_path):
    config = GOLDEN_CONFIG.read_text()
    assert "pools: [1-gpu-5090]" in config
    unknown_pool = config.replace("pools: [1-gpu-5090]", "pools: [nowhere]", 1)  # a semantic error, not a schema one
    write_files(tmp_path, {"test/registered/a.py": GOOD, "cigen.yml": unknown_pool})
    scanned = run("scan", "--root", str(tmp_path))
    assert (scanned.exit_code, scanned.stdout.splitlines()[-1]) == (0, "1 registration in 1 file")
    linted = CliRunner().invoke(cli, ["lint", "--root", str(tmp_path)])
    assert linted.exit_code == 2 and "nowhere" in linted.stderr
    (tmp_path / "cigen.yml").write_text(config.replace('include: ["test/**/*.py"]', "include: 3", 1))
    broken = CliRunner().invoke(cli, ["scan", "--root", str(tmp_path)])
    assert broken.exit_code == 2 and "config-" in broken.stderr  # YAML and schema errors stop scan too


def test_missing_root_is_a_user_error(tmp_path):
    result = CliRunner().invoke(cli, ["scan", "--root", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"{tmp_path / 'nope'}: no-root: not a directory\n  help: pass the repository root with --root\n"
    )


# The embedded default runs sglang's weight-checker e2e as a model test: the tree must register it.
WEIGHT_CHECKER = {"test/registered/rl/test_weight_checker_e2e.py": GOOD}


@pytest.mark.parametrize("command", ["scan", "lint", "plan", "render", "check"])
def test_a_root_without_tests_is_an_error_not_an_empty_ci(tmp_path, command):
    (tmp_path / "src").mkdir()
    result = CliRunner().invoke(cli, [command, "--root", str(tmp_path)])
    assert result.exit_code == 2
    include_line = load_config(None, tmp_path).line("tests", "include")
    assert include_line > 1
    assert result.stderr.splitlines()[:2] == [
        f"<embedded default cigen.yml>:{include_line}: no-test-files: no file under {tmp_path} matches tests.include "
        "(test/registered/**/*.py)",
        "  help: run from the repository root or pass --root; check tests.include in cigen.yml",
    ]
    assert not (tmp_path / ".github").exists()


def test_lint_warnings_exit_0_unless_strict(tmp_path):
    write_files(tmp_path, {"test/registered/a.py": GOOD.replace("nightly=True", "nightly=False"), **WEIGHT_CHECKER})
    assert run("lint", "--root", str(tmp_path)).exit_code == 0
    assert run("lint", "--root", str(tmp_path), "--strict").exit_code == 2


def test_lint_counts_by_kind(tmp_path):
    write_files(tmp_path, {"test/registered/a.py": GOOD.replace("nightly=True", "nightly=False")})
    result = CliRunner().invoke(cli, ["lint", "--root", str(tmp_path)])
    lines = result.stderr.splitlines()
    summary = lines.index("1 error, 41 warnings in 1 file")
    assert lines[summary + 1 :] == [
        "      1  error   model-test-unregistered",  # the default's weight-checker e2e is not in this tree
        "     40  warning empty-suite",  # the embedded sglang suites this one-file tree leaves empty
        "      1  warning nightly-mismatch",
    ]
    assert result.exit_code == 2


@pytest.mark.parametrize("flag", [[], ["--no-cache"]])
def test_scan_with_and_without_cache_agree(tmp_path, flag):
    write_files(tmp_path, {"test/registered/a.py": GOOD})
    first = run("scan", "--root", str(tmp_path), "--format", "json", *flag)
    second = run("scan", "--root", str(tmp_path), "--format", "json", *flag)
    assert first.output == second.output and first.exit_code == 0


def test_no_cache_writes_no_cache(tmp_path, isolated_cache: Path):
    write_files(tmp_path, {"test/registered/a.py": GOOD})
    run("scan", "--root", str(tmp_path), "--no-cache")
    assert not isolated_cache.exists()
    run("scan", "--root", str(tmp_path))
    assert len(list(isolated_cache.glob("scan-*.json"))) == 1
