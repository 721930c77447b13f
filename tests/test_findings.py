"""generator/findings.py lists every finding code exactly as the modules raise them, and the
README's findings table is generated from it.

A code is any kebab-case string literal in generator/ (`bad-est-time`), found with `ast`, so a
code passed through a helper (`reject("bad-pin", ...)`, `read_json(path, "history-json")`) is
seen too. Kebab-case literals that are not codes (job ids, flags, file names) are listed in
NOT_CODES with what they are.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from pathlib import Path

from generator.findings import CODES, FINDINGS, markdown_table
from tests.support.rendering import REPO_ROOT

PACKAGE = REPO_ROOT / "generator"
CATALOG = PACKAGE / "findings.py"
README = REPO_ROOT / "README.md"
KEBAB = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
BEGIN = "<!-- findings: generated from generator/findings.py by `make findings-table`; do not edit -->\n"
END = "<!-- end of findings -->\n"

NOT_CODES = {
    # workflow, job, step, output and artifact names
    "per-commit", "cpu-tests", "rerun-test", "run-shard", "weight-checker", "gpu-tests", "ubuntu-latest",
    "cigen-secrets", "cigen-results", "cigen-rerun-test", "cigen-ci-gate", "model-tests", "test-file",
    "server-args", "model-config", "extra-peak", "timeout-minutes", "mem-fraction-static",
    # encodings, programs, formats and values
    "utf-8", "nvidia-smi", "config-document-1", "built-in", "sgl-kernel", "partition-model", "fix-time",
    # runner health: probe names, fault names, a results kind, User-Agents, a verdict, a command's name
    "gpu-count", "gpu-memory", "cuda-init", "cuda-driver", "cuda-device", "gpu-lost", "job-started-hook",
    "lost-runner", "cigen-health", "cigen-redispatch", "re-dispatched", "runner-hook",
    # the /rerun-test registry output's name
    "rerun-registry",
    # estimator names (timings) and the runner's result classes
    "max-last-3", "median-last-3", "trimmed-mean", "flaky-accuracy", "not-run",
}  # fmt: skip


def kebab_literals() -> dict[str, dict[str, int]]:
    """Every kebab-case string literal under generator/ (the catalog aside): {literal: {module: line}}."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == CATALOG:
            continue
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEBAB.fullmatch(node.value):
                found[node.value].setdefault(module, node.lineno)
    return found


def raised_codes() -> dict[str, dict[str, int]]:
    return {code: where for code, where in kebab_literals().items() if code not in NOT_CODES}


def test_every_raised_code_is_in_the_catalog():
    missing = {code: where for code, where in raised_codes().items() if code not in CODES}
    advice = [
        f"{module.replace('.', '/')}.py:{line}: '{code}' is not in generator/findings.py; add\n"
        f'    Finding("{code}", ERROR or WARNING, "{", ".join(sorted(where))}", "what it means; fix: what to do"),\n'
        f"  (then `make findings-table`), or, if it is not a finding code, add it to NOT_CODES in {Path(__file__).name}"
        for code, where in sorted(missing.items())
        for module, line in sorted(where.items())[:1]
    ]
    assert not advice, "\n".join(advice)


def test_every_catalog_code_is_raised_by_the_modules_it_names():
    raised = raised_codes()
    wrong = []
    for finding in FINDINGS:
        modules = ", ".join(sorted(raised.get(finding.code, {})))
        if not modules:
            wrong.append(f"'{finding.code}' is raised nowhere under generator/: remove it from generator/findings.py")
        elif modules != finding.modules:
            wrong.append(f"'{finding.code}': set its modules to \"{modules}\" in generator/findings.py")
    assert not wrong, "\n".join(wrong)


def test_the_catalog_is_sorted_unique_and_says_something():
    codes = [finding.code for finding in FINDINGS]
    assert codes == sorted(set(codes))
    assert {finding.severity for finding in FINDINGS} <= {"error", "warning", "error or warning"}
    assert all(finding.help and not finding.help.endswith(".") for finding in FINDINGS)
    assert not NOT_CODES & set(CODES)


def test_the_readme_findings_table_is_generated_from_the_catalog(update_golden):
    text = README.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1, f"README.md needs one {BEGIN!r} ... {END!r} section"
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    fresh = head + BEGIN + markdown_table() + END + tail
    if update_golden:
        README.write_text(fresh)
        return
    assert text == fresh, "the README's findings table is stale: run `make findings-table`"


def test_a_lint_finding_in_the_json_output_is_a_catalog_code(tmp_path):
    """The codes users meet come from the catalog: one end-to-end case through `cigen lint`."""
    from click.testing import CliRunner

    from generator.cli import cli

    (tmp_path / "test" / "registered").mkdir(parents=True)
    (tmp_path / "test" / "registered" / "test_x.py").write_text(
        'from sglang.test.ci.ci_register import register_cuda_ci\nregister_cuda_ci(est_time="fast", suite="s")\n'
    )
    result = CliRunner().invoke(cli, ["lint", "--root", str(tmp_path)])
    assert result.exit_code == 2
    codes = re.findall(r"^\S+:\d+: ([a-z0-9-]+): ", result.stderr, flags=re.M)
    assert codes and set(codes) <= set(CODES), (codes, json.dumps(result.stderr))
