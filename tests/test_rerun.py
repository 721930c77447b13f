"""The /rerun-test comment parser (generator/shipped/rerun_select.py over the registry of a scan):
hostile comments are rejected with their reason and nothing runs; valid ones, in every selector
form, resolve to the CI jobs of their suites and pools. The hostile table runs through the parser
directly; a few cases run through `cigen rerun parse` and a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.config import load_config
from generator.rerun.parse import (
    MAX_STATUS_CONTEXT_CHARS,
    CommentLimits,
    RerunRejected,
    Target,
    parse_comment,
    registry_from_scan,
)
from generator.tree import scan_tree
from tests.support.rerun import E2E, write_rerun_tree

REPO = Path(__file__).resolve().parent.parent
HOSTILE = yaml.safe_load((REPO / "tests/cases/rerun/hostile.yml").read_text())
FA3 = "test/registered/attention/unittests/dense/test_fa3.py"
GLM = "test/registered/8-gpu-models/test_glm52_fp8.py"
KV = "test/registered/attention/test_create_kvindices.py"


@pytest.fixture(scope="module")
def tree(tmp_path_factory, corpus) -> Path:
    return write_rerun_tree(tmp_path_factory.mktemp("rerun-tree"), corpus)


@pytest.fixture(scope="module")
def registry(tree):
    config = load_config(None, tree)
    return registry_from_scan(config, scan_tree(tree, config.include, config.exclude))


@pytest.fixture(scope="module")
def parsed(tree, registry):
    return lambda comment, limits=None, changed=None: parse_comment(comment, registry, tree, limits, changed)


def parse_cli(tree: Path, comment: str, *args: str):
    """The full `cigen rerun parse` path, the comment on stdin as the workflow could pass it."""
    return CliRunner().invoke(cli, ["rerun", "parse", "--root", str(tree), *args], input=comment.encode("utf-8"))


def test_the_hostile_table_is_big_and_covers_every_kind():
    categories = Counter(case["category"] for case in HOSTILE)
    assert len(HOSTILE) >= 200
    assert set(categories) == {
        "command",
        "injection",
        "newline",
        "lines",
        "unicode",
        "path",
        "test-name",
        "unknown-test",
        "registry",
        "overlap",
        "many",
        "budget",
        "pin",
        "selector",
    }
    assert len({case["comment"] for case in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("case", HOSTILE, ids=[case["name"] for case in HOSTILE])
def test_hostile_comment_is_rejected_with_its_reason_and_runs_nothing(case, parsed, tmp_path):
    marker = tmp_path / "marker"  # its folder exists: `touch` would succeed if a shell ran it
    comment = case["comment"].replace("{marker}", str(marker))
    changed = tuple(case["changed"]) if "changed" in case else None
    with pytest.raises(RerunRejected) as rejected:
        parsed(comment, changed=changed)
    reason = case["reason"].replace("{marker}", str(marker))
    assert (rejected.value.code, rejected.value.reason) == (case["code"], reason)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["$() as selector", "no such file", "pytest-style ::Class::method"])
def test_hostile_comment_through_the_cli_prints_its_reason_and_exits_2(name, tree, tmp_path):
    case = next(case for case in HOSTILE if case["name"] == name)
    marker = tmp_path / "marker"
    result = parse_cli(tree, case["comment"].replace("{marker}", str(marker)))
    assert result.exit_code == 2
    reason = case["reason"].replace("{marker}", str(marker))
    assert json.loads(result.stdout) == {"accepted": False, "code": case["code"], "reason": reason}
    first = reason.split("\n")[0]
    assert f"comment:1: {case['code']}: {first}" in result.stderr.splitlines()
    assert result.stderr.endswith("rejected: nothing runs.\n")
    assert not marker.exists()


@pytest.mark.parametrize(
    "comment, code, reason",
    [
        (
            "/rerun-test " + E2E + "\n" + "x" * 65536,
            "comment-too-long",
            "the comment is 65594 characters; the limit is 65536",
        ),
        (
            "/rerun-test " + E2E + " " + "a/" * 480 + "t.py",
            "line-too-long",
            "the first line is 1022 characters; the limit is 1000",
        ),
        ("/rerun-test " + "a/" * 150 + "t.py", "selector-too-long", "a selector is 304 characters; the limit is 300"),
        (
            "/rerun-test " + E2E + "::T" + "x" * 150,
            "bad-test-name",
            f"'{E2E}::T{'x' * 150}': after '::' give Class or Class.method "
            "(Python identifiers, at most 150 characters)",
        ),
    ],
    ids=["comment-too-long", "line-too-long", "selector-too-long", "test-name-too-long"],
)
def test_overlong_input_is_rejected_with_its_reason(comment, code, reason, tree):
    result = parse_cli(tree, comment)
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {"accepted": False, "code": code, "reason": reason}


INJECTIONS = [
    "/rerun-test $(touch {m})",
    "/rerun-test `touch {m}`",
    "/rerun-test " + E2E + "; touch {m}",
    "/rerun-test " + E2E + " && touch {m}",
    "/rerun-test " + E2E + "::X$(touch {m})",
    "/rerun-test " + E2E + " @$(touch${IFS}{m})",
    "/rerun-test$(touch {m}) " + E2E,
]


@pytest.mark.parametrize("template", INJECTIONS)
@pytest.mark.parametrize("channel", ["stdin", "env"])
def test_injection_through_a_real_process_creates_no_file(template, channel, tree, tmp_path):
    marker = tmp_path / "pwned"
    comment = template.replace("{m}", str(marker))
    command = [sys.executable, "-m", "generator", "rerun", "parse", "--root", str(tree), "--no-cache"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if channel == "env":
        command += ["--from-env", "RERUN_COMMENT"]
        env["RERUN_COMMENT"] = comment
    done = subprocess.run(
        command, input=comment if channel == "stdin" else "", env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert json.loads(done.stdout)["accepted"] is False
    assert not marker.exists()
    assert list(tmp_path.iterdir()) == []


def test_later_lines_are_refused_not_ignored(tree, tmp_path):
    """A pin or a second request on line 2 used to be silently ignored; now nothing runs."""
    marker = tmp_path / "marker"
    for tail, line in (
        ("\n$(touch {m})", 2),
        ("\r\n`touch {m}`", 2),
        ("\n/rerun-test /etc/passwd; touch {m}", 2),
        ("\n@0123456789abcdef0123456789abcdef01234567", 2),
        ("\n\n  \t\r\nthanks!", 4),
    ):
        result = parse_cli(tree, "/rerun-test " + E2E + tail.replace("{m}", str(marker)))
        assert result.exit_code == 2
        reason = f"line {line} is not empty; a /rerun-test comment is one line (explain in a separate comment)"
        assert json.loads(result.stdout) == {"accepted": False, "code": "extra-lines", "reason": reason}
    assert not marker.exists()


def test_blank_later_lines_are_fine(tree):
    result = parse_cli(tree, "/rerun-test " + E2E + "\r\n \n\t\n")
    assert result.exit_code == 0, result.output
    assert [t["files"] for t in json.loads(result.stdout)["targets"]] == [[E2E]]


E2E_JOB = "rerun-nightly-1-gpu-on-1-gpu-h100"


def test_valid_comment_prints_the_whole_request(tree):
    result = parse_cli(tree, f"/rerun-test {E2E}::TestFeature1.test_generate_1 @{'ABCDEF12' * 5}\n")
    assert result.exit_code == 0, result.output
    selector = f"{E2E}::TestFeature1.test_generate_1"
    assert json.loads(result.stdout) == {
        "accepted": True,
        "selectors": [selector],
        "pin": "abcdef12" * 5,
        "jobs": 1,
        "gpu_minutes": 3,
        "targets": [
            {
                "selector": selector,
                "job": E2E_JOB,
                "suite": "nightly-1-gpu",
                "pool": "1-gpu-h100",
                "files": [E2E],
                "test": "TestFeature1.test_generate_1",
                "est_seconds": 150.0,
                "gpus": 1,
                "gpu_minutes": 3,
                "job_name": f"{selector} on 1-gpu-h100: nightly-1-gpu (3 GPU-min)",
                "status_context": f"rerun-test {selector} (nightly-1-gpu on 1-gpu-h100)",
            }
        ],
    }


RL = "test/registered/rl"
SAME = "test/registered/custom/a/test_same_name.py"


@pytest.mark.parametrize(
    "comment, changed, expected",
    [
        (f"/rerun-test {E2E}", None, [(E2E, "nightly-1-gpu", "1-gpu-h100", (E2E,), None)]),
        (f"  /rerun-test\t{E2E}  ", None, [(E2E, "nightly-1-gpu", "1-gpu-h100", (E2E,), None)]),
        (
            f"/rerun-test {E2E}::TestFeature0",
            None,
            [(f"{E2E}::TestFeature0", "nightly-1-gpu", "1-gpu-h100", (E2E,), "TestFeature0")],
        ),
        # sglang's forms: inside the suite's working directory (test/), and a bare unique name.
        (
            "/rerun-test registered/rl/test_weight_checker_e2e.py::TestFeature0.test_generate_0",
            None,
            [
                (
                    "registered/rl/test_weight_checker_e2e.py::TestFeature0.test_generate_0",
                    "nightly-1-gpu",
                    "1-gpu-h100",
                    (E2E,),
                    "TestFeature0.test_generate_0",
                )
            ],
        ),
        (
            "/rerun-test test_weight_checker_e2e.py",
            None,
            [("test_weight_checker_e2e.py", "nightly-1-gpu", "1-gpu-h100", (E2E,), None)],
        ),
        # Registered in two suites on two pools: it runs in both jobs, as CI runs it.
        (
            f"/rerun-test {FA3}",
            None,
            [
                (FA3, "base-b-test-1-gpu-large", "1-gpu-h100", (FA3,), None),
                (FA3, "base-b-test-4-gpu-b200", "4-gpu-b200", (FA3,), None),
            ],
        ),
        # One suite with two pools (nightly-8-gpu-common): both pools.
        (
            f"/rerun-test {GLM}",
            None,
            [
                (GLM, "nightly-8-gpu-common", "8-gpu-b200", (GLM,), None),
                (GLM, "nightly-8-gpu-common", "8-gpu-h200", (GLM,), None),
            ],
        ),
        # CUDA and AMD registrations: only the CUDA one's job.
        (f"/rerun-test {KV}", None, [(KV, "base-b-test-1-gpu-small", "1-gpu-5090", (KV,), None)]),
        # A glob: its runnable files, one test job per CI job they run in.
        (
            f"/rerun-test {RL}/test_weight_checker_e2*.py",
            None,
            [(f"{RL}/test_weight_checker_e2*.py", "nightly-1-gpu", "1-gpu-h100", (E2E,), None)],
        ),
        (
            "/rerun-test registered/custom/*/test_same_name.py",
            None,
            [
                (
                    "registered/custom/*/test_same_name.py",
                    "nightly-1-gpu",
                    "1-gpu-h100",
                    (SAME, SAME.replace("/a/", "/b/")),
                    None,
                )
            ],
        ),
        # --changed: the registered test files the pull request changes; other files are not run.
        (
            "/rerun-test --changed",
            (E2E, "python/sglang/srt/server.py", "test/registered/rl/test_new_unregistered.py", SAME),
            [("--changed", "nightly-1-gpu", "1-gpu-h100", (SAME, E2E), None)],
        ),
        # A suite by name: every runnable file registered in it, in its jobs only.
        (
            "/rerun-test nightly-1-gpu",
            None,
            "nightly-1-gpu",
        ),
    ],
    ids=[
        "one file",
        "blanks and tab",
        "class",
        "inside the working directory",
        "bare file name",
        "two suites",
        "suite with two pools",
        "cuda and amd",
        "glob",
        "glob inside the working directory",
        "changed",
        "suite",
    ],
)
def test_every_selector_form_resolves_to_the_ci_jobs_of_its_files(parsed, registry, comment, changed, expected):
    roomy = CommentLimits(max_jobs=8, max_gpu_minutes=100_000)
    request = parsed(comment, limits=roomy, changed=changed)
    got = [(t.selector, t.suite, t.pool, t.files, t.test) for t in request.targets]
    if isinstance(expected, str):  # a suite: all its runnable files, in its own job(s)
        files = tuple(
            sorted(
                p for p, jobs in registry.files.items() if any(j.startswith("rerun-" + expected + "-on-") for j in jobs)
            )
        )
        assert len(files) > 3 and got == [(expected, expected, "1-gpu-h100", files, None)]
        return
    assert got == expected
    for target in request.targets:
        assert target.job == f"rerun-{target.suite}-on-{target.pool}"


def test_eight_selectors_are_the_default_limit_and_the_policy_can_lower_it(parsed):
    files = [
        E2E,
        "test/registered/rl/test_fp32_lm_head.py",
        "test/registered/rl/test_lora_load_from_tensor.py",
        "test/registered/rl/test_patch_torch.py",
        "test/registered/rl/test_return_indexer_topk.py",
        "test/registered/rl/test_return_routed_experts.py",
        "test/registered/rl/test_update_weights_from_disk_blackwell.py",
        "test/registered/rl/test_update_weights_from_distributed.py",
    ]
    roomy = CommentLimits(max_jobs=8, max_gpu_minutes=10_000)
    request = parsed("/rerun-test " + " ".join(files), limits=roomy)
    pools = sorted({t.pool for t in request.targets})
    assert pools == ["1-gpu-5090", "1-gpu-h100", "2-gpu-h100", "4-gpu-b200", "4-gpu-h100", "8-gpu-h200"]
    assert len(request.targets) == 8
    with pytest.raises(RerunRejected) as rejected:
        parsed("/rerun-test " + " ".join(files[:3]), limits=CommentLimits(max_selectors=2))
    assert (rejected.value.code, rejected.value.reason) == ("too-many-selectors", "3 selectors; at most 2 per comment")


def test_every_sglang_file_resolves_like_its_registrations_say(synth_tree, corpus):
    """Differential over all 1,336 scanned files: jobs come from the raw corpus calls and the config."""
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    registry = registry_from_scan(config, scan)
    accepted = rejected = 0
    roomy = CommentLimits(max_jobs=8, max_gpu_minutes=10**9)
    for entry in corpus["files"]:
        if entry["file"] not in scan.files:
            continue
        expected = set()
        for call in entry["calls"]:
            args, kwargs = call["args"], call["kwargs"]  # positional: est_time, suite, nightly, disabled
            suite = kwargs.get("suite", args[1] if len(args) > 1 else None)
            suite = suite or f"{kwargs.get('stage')}-test-{kwargs.get('runner_config')}"
            disabled = kwargs.get("disabled", args[3] if len(args) > 3 else None)
            if (
                call["func"] == "register_cuda_ci"
                and not disabled
                and suite in config.suites
                and config.suites[suite].enabled
            ):
                expected |= {(suite, pool) for pool in config.suites[suite].pools}
        try:
            request = parse_comment(f"/rerun-test {entry['file']}", registry, synth_tree.root, roomy)
        except RerunRejected as error:
            assert not expected, (entry["file"], error.reason)
            assert error.code in {"backend-not-planned", "disabled", "suite-disabled", "not-registered"}, entry["file"]
            rejected += 1
            continue
        assert {(t.suite, t.pool) for t in request.targets} == expected, entry["file"]
        assert all(t.files == (entry["file"],) and t.test is None for t in request.targets)
        accepted += 1
    assert (accepted, rejected) == (654, 682)


def test_long_selectors_keep_status_contexts_short():
    selector = "test/" + "a" * 290 + ".py"
    target = Target(selector, "rerun-s-on-8-gpu-h200", "s", "8-gpu-h200", (selector,), None, 10.0, 8)
    context = target.status_context
    assert len(context) == MAX_STATUS_CONTEXT_CHARS
    assert context.startswith("rerun-test test/aaa") and context.endswith(" (s on 8-gpu-h200)")
    assert context == Target(selector, "x", "s", "8-gpu-h200", (), None).status_context


def test_comment_from_an_unset_environment_variable_is_a_user_error(tree):
    result = CliRunner().invoke(cli, ["rerun", "parse", "--root", str(tree), "--from-env", "NO_SUCH_VARIABLE_X"])
    assert result.exit_code == 2
    assert result.stderr == "$NO_SUCH_VARIABLE_X: no-comment: the environment variable is not set\n"


def test_comment_that_is_not_utf8_is_a_user_error(tree):
    result = CliRunner().invoke(cli, ["rerun", "parse", "--root", str(tree)], input=b"/rerun-test \xff\xfe")
    assert result.exit_code == 2
    assert result.stderr == "comment:1: not-utf8: the comment is not UTF-8 text: invalid start byte at byte 12\n"


def test_every_rerun_command_has_help():
    group = cli.get_command(None, "rerun")
    for name, command in group.commands.items():
        result = CliRunner().invoke(cli, ["rerun", name, "--help"])
        assert result.exit_code == 0, name
        assert command.help.split("\n")[0] in " ".join(result.output.split())


INHERITED = "test/registered/custom/test_inherited.py"


@pytest.mark.parametrize(
    "test",
    [
        "TestChild",
        "TestChild.test_own",
        "TestChild.test_shared",
        "TestChild.test_alias",
        "Base.test_shared",
        "TestMixed",
    ],
)
def test_methods_of_the_class_or_of_a_base_class_in_the_same_file_are_found(parsed, test):
    """Own methods (async too), class attributes, and methods of base classes defined in the same file."""
    request = parsed(f"/rerun-test {INHERITED}::{test}")
    assert [(t.files, t.test) for t in request.targets] == [((INHERITED,), test)]


def test_the_policy_file_sets_the_per_comment_limits_of_rerun_parse(tree, tmp_path):
    eight = "test/registered/custom/test_eight_gpu_classes.py"
    comment = "/rerun-test " + " ".join(f"{eight}::T{n}" for n in range(8))
    result = parse_cli(tree, comment)
    assert (result.exit_code, json.loads(result.stdout)["code"]) == (2, "too-many-jobs")
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\nbudget:\n  per_comment: {jobs: 16, gpu_minutes: 128}\n")
    result = parse_cli(tree, comment, "--policy", str(policy))
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["jobs"], json.loads(result.stdout)["gpu_minutes"]) == (16, 128)
    policy.write_text("version: 1\nbudget:\n  per_comment: {jobs: 16, gpu_minutes: 127}\n")
    result = parse_cli(tree, comment, "--policy", str(policy))
    assert json.loads(result.stdout) == {
        "accepted": False,
        "code": "too-many-gpu-minutes",
        "reason": (
            "an estimated 128 GPU-minutes (each file's estimated time x its pool's GPUs); at most 127 per comment"
        ),
    }
