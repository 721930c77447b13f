"""cigen.yml: the embedded default reproduces sglang's layout; bad configs give clear,
line-numbered errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config import load_config, parse_config
from generator.config_document import DEFAULT_SOURCE
from generator.errors import ProblemReport, UserError
from generator.model import RETRIABLE_CLASSES, PlausibilityBounds, TimingsLoop


@pytest.fixture(scope="module")
def default():
    return load_config(None, Path("/nonexistent-root"))


def test_default_has_every_sglang_cuda_suite(default, sglang_suites):
    assert default.source == DEFAULT_SOURCE
    assert set(default.suites) == set(sglang_suites["suites"])
    assert len(default.suites) == 49


def test_default_pools_match_sglang_runner_labels(default, sglang_suites):
    for name, facts in sglang_suites["suites"].items():
        suite = default.suites[name]
        labels = {label for pool in suite.pools for label in default.pools[pool].labels}
        # 4-gpu-b200-kernel is sglang's alternative label chosen at dispatch time.
        expected = {label for label in facts["runner_labels"] if label != "4-gpu-b200-kernel"}
        if expected:
            assert labels == expected, name


def test_default_gpu_facts_match_sglang(default, sglang_suites):
    for name, facts in sglang_suites["suites"].items():
        for runner in facts.get("runners", []):
            pool = default.pools[runner["label"].replace("-kernel", "")]
            assert pool.gpus == runner["gpus"], name
            assert pool.gpu_model == runner["gpu_model"], name
            if runner["mem_gb"]:
                assert round(pool.gpu_mem_gib) == runner["mem_gb"], name


def test_default_triggers_timeouts_and_needs_match_sglang(default, sglang_suites):
    trigger = {
        "per-commit": "per-commit",
        "per-commit-label-gated": "per-commit",
        "per-commit-path-gated": "per-commit",
        "nightly": "nightly",
        "weekly": "nightly",
        "manual": "manual",
    }
    for name, facts in sglang_suites["suites"].items():
        suite = default.suites[name]
        if facts["trigger"] == "not-dispatched":
            assert not suite.enabled, name
            continue
        assert suite.enabled, name
        assert suite.trigger == trigger[facts["trigger"]], name
        assert suite.step_timeout_minutes == facts["timeout_minutes"]["run_step"], name
        assert suite.job_timeout_minutes == facts["timeout_minutes"]["job"], name
        assert suite.per_file_timeout_seconds == facts["timeout_per_file_s"], name
        # base-a-test-cpu is a CPU suite outside this (CUDA) config.
        assert set(suite.needs) == set(facts["needs"]) - {"base-a-test-cpu"}, name
        assert (suite.pr_label == "run-ci-extra") == (facts["trigger"] == "per-commit-label-gated"), name


def test_default_per_commit_budget_is_sglangs_rule(default):
    for suite in default.suites.values():
        if suite.trigger == "per-commit":
            assert suite.shard_budget_minutes == 0.75 * suite.step_timeout_minutes, suite.name


def test_default_maps_small_and_large_runner_configs(default):
    assert default.runner_configs["1-gpu-small"] == "1-gpu-5090"
    assert default.runner_configs["1-gpu-large"] == "1-gpu-h100"
    assert default.pools["1-gpu-5090"].gpu_model == "NVIDIA RTX 5090"
    assert default.suites["nightly-1-gpu"].pools == ("1-gpu-h100",)


def test_root_config_file_wins_over_default(tmp_path):
    (tmp_path / "cigen.yml").write_text(MINIMAL)
    config = load_config(None, tmp_path)
    assert config.source == str(tmp_path / "cigen.yml")
    assert list(config.suites) == ["nightly-1-gpu"]


MINIMAL = """\
version: 1
tests:
  include: ["tests/e2e/**/*.py"]
pools:
  1-gpu-h100: {labels: [1-gpu-h100], gpu: NVIDIA H100, gpu_mem_gib: 79.65, gpus: 1, setup_minutes: 2}
suites:
  nightly-1-gpu:
    trigger: nightly
    pools: [1-gpu-h100]
    step_timeout_minutes: 60
    shard_budget_minutes: 60
"""


def messages(text: str) -> list[str]:
    with pytest.raises((ProblemReport, UserError)) as caught:
        parse_config(text, "cigen.yml")
    error = caught.value
    problems = error.problems if isinstance(error, ProblemReport) else [error.problem]
    return [p.format() for p in problems]


def test_minimal_config_parses():
    config = parse_config(MINIMAL, "cigen.yml")
    suite = config.suites["nightly-1-gpu"]
    assert suite.pools == ("1-gpu-h100",) and suite.nightly and suite.max_parallel == 1


def test_yaml_syntax_error_names_its_line():
    assert messages("version: 1\npools:\n  a: [b\n  c: d\n") == [
        "cigen.yml:4: config-yaml: invalid YAML: expected ',' or ']', but got ':'"
    ]


def test_duplicate_keys_are_errors():
    text = MINIMAL + "  nightly-1-gpu:\n    trigger: nightly\n"
    assert messages(text) == ["cigen.yml:12: config-duplicate-key: key 'nightly-1-gpu' appears twice"]


def test_schema_errors_point_at_the_offending_key():
    text = MINIMAL.replace("setup_minutes: 2}", "setup_minutes: 2, colour: red}").replace(
        "trigger: nightly", "trigger: hourly"
    )
    assert messages(text) == [
        "cigen.yml:5: config-schema: pools.1-gpu-h100: unknown key 'colour' "
        "(known: env, gpu, gpu_mem_gib, gpus, health, hooks, labels, labels_when_changed, preflight, setup,"
        " setup_minutes)",
        "cigen.yml:8: config-schema: suites.nightly-1-gpu.trigger: "
        "'hourly' is not one of ['per-commit', 'nightly', 'manual']",
    ]


def test_runner_config_and_pools_are_exclusive():
    text = MINIMAL.replace("    pools: [1-gpu-h100]\n", "    pools: [1-gpu-h100]\n    runner_config: x\n")
    assert messages(text) == [
        "cigen.yml:7: config-schema: suites.nightly-1-gpu: give either runner_config or pools, not both"
    ]


def test_a_suites_settings_on_one_pool_merge_its_env_and_set_its_retry_policy():
    text = MINIMAL.replace(
        "gpus: 1, setup_minutes: 2}",
        "gpus: 1, setup_minutes: 2}\n  8-gpu-h200: {labels: [h], gpus: 8, setup_minutes: 2}",
    )
    text = text.replace("pools: [1-gpu-h100]", "pools: [1-gpu-h100, 8-gpu-h200]") + (
        "    env: {SHARED: suite, ONLY_SUITE: true}\n"
        "    retries: 2\n"
        "    retry_classes: [infra, timeout]\n"
        "    on_pools:\n"
        "      8-gpu-h200:\n"
        "        env: {IS_H200: 1, SHARED: h200, RELAY: {var: PERFETTO_RELAY_URL, default: none}}\n"
        "        retry_classes: [flaky-accuracy]\n"
    )
    suite = parse_config(text, "cigen.yml").suites["nightly-1-gpu"]
    h200, h100 = suite.on_pool("8-gpu-h200"), suite.on_pool("1-gpu-h100")
    assert dict(h200.env) == {
        "SHARED": "h200",
        "ONLY_SUITE": "true",
        "IS_H200": "1",
        "RELAY": "${{ vars.PERFETTO_RELAY_URL || 'none' }}",
    }
    assert (h200.retries, h200.retry_classes) == (2, ("flaky-accuracy",))
    assert h100 == suite and dict(h100.env) == {"SHARED": "suite", "ONLY_SUITE": "true"}
    assert (h100.retries, h100.retry_classes) == (2, ("infra", "timeout"))
    assert parse_config(MINIMAL, "cigen.yml").suites["nightly-1-gpu"].retry_classes == RETRIABLE_CLASSES


def test_per_pool_env_and_retry_classes_are_checked_with_their_lines():
    text = MINIMAL + (
        "    retry_classes: [flaky-accuracy, test]\n"
        "    on_pools:\n"
        "      1-gpu-h100:\n"
        "        env:\n"
        "          IS_H200: 1\n"
        "          bad-name: x\n"
        "          VAR: {var: no spaces}\n"
        "          OTHER: {variable: X}\n"
        "        retry_classes: []\n"
    )
    env_value = "an env value is text, a number, true/false, or {var: REPOSITORY_VARIABLE, default: text}; here "
    where = "suites.nightly-1-gpu.on_pools.1-gpu-h100"
    assert messages(text) == [
        "cigen.yml:12: config-schema: suites.nightly-1-gpu.retry_classes.1: "
        "'test' is not one of ['flaky-accuracy', 'infra', 'timeout']",
        f"cigen.yml:17: config-schema: {where}.env: key 'bad-name' does not match '^[A-Za-z_][A-Za-z0-9_]*$'",
        f"cigen.yml:18: config-schema: {where}.env.VAR: {env_value}"
        "'no spaces' does not match '^[A-Za-z_][A-Za-z0-9_]*$'",
        f"cigen.yml:19: config-schema: {where}.env.OTHER: {env_value}"
        "'var' is a required property; Additional properties are not allowed ('variable' was unexpected)",
        f"cigen.yml:20: config-schema: {where}.retry_classes: [] should be non-empty",
    ]


def test_semantic_errors_are_all_reported_with_lines():
    text = (
        MINIMAL
        + """\
  base-b:
    trigger: per-commit
    pools: [no-such-pool]
    needs: [base-c, nightly-1-gpu]
    step_timeout_minutes: 10
    shard_budget_minutes: 20
    cron: "0 1 * * *"
  base-c:
    trigger: per-commit
    runner_config: 1-gpu-huge
    needs: [base-b]
    step_timeout_minutes: 10
    shard_budget_minutes: 5
"""
    )
    assert messages(text) == [
        "cigen.yml:14: unknown-pool: suite 'base-b': unknown pool 'no-such-pool'",
        "cigen.yml:15: need-across-triggers: suite 'base-b' (per-commit) cannot wait for 'nightly-1-gpu' (nightly): "
        "they run in different workflows",
        "cigen.yml:17: budget-over-timeout: suite 'base-b': "
        "shard_budget_minutes (20) is above step_timeout_minutes (10); a full shard would time out",
        "cigen.yml:18: option-for-trigger: suite 'base-b': cron does not apply to trigger 'per-commit'",
        "cigen.yml:21: unknown-runner-config: suite 'base-c': runner_config '1-gpu-huge' is not under runner_configs",
    ]


def test_needs_cycles_are_found():
    text = (
        MINIMAL
        + """\
  a:
    trigger: per-commit
    pools: [1-gpu-h100]
    needs: [b]
    step_timeout_minutes: 10
    shard_budget_minutes: 5
  b:
    trigger: per-commit
    pools: [1-gpu-h100]
    needs: [a]
    step_timeout_minutes: 10
    shard_budget_minutes: 5
"""
    )
    assert messages(text) == ["cigen.yml:15: needs-cycle: needs form a cycle: a -> b -> a"]


def test_top_level_must_be_a_mapping():
    assert messages("- a\n- b\n") == [
        "cigen.yml:1: config-schema: the config must be a mapping (version, pools, suites, ...)"
    ]


def test_checks_that_once_fired_while_rendering_are_all_found_when_the_config_is_read():
    """`${{` anywhere, a job id two suites share or cigen uses: each with its own line, all in
    one pass."""
    text = (
        MINIMAL.replace("pools:\n", "pools:\n  1-gpu-h100b: {labels: [1-gpu-h100b], gpus: 1, setup_minutes: 2}\n")
        + """\
  base.b:
    trigger: per-commit
    pools: [1-gpu-h100]
    step_timeout_minutes: 10
    shard_budget_minutes: 5
    paths: ["ok/**", "${{ github.head_ref }}"]
  base_b:
    trigger: per-commit
    step_timeout_minutes: 10
    shard_budget_minutes: 5
    pools: [1-gpu-h100]
  finish:
    trigger: per-commit
    pools: [1-gpu-h100]
    step_timeout_minutes: 10
    shard_budget_minutes: 5
workflows:
  setup: ["pip install -e .", "echo ${{ secrets.TOKEN }}"]
"""
    )
    assert [line for message in messages(text) for line in message.splitlines()] == [
        "cigen.yml:18: expression-in-config: suites.base.b.paths.1: '${{ github.head_ref }}' contains '${{'; "
        "GitHub would evaluate it where cigen places it",
        "  help: write the value out, or pass it to the job through the environment",
        "cigen.yml:19: job-id-clash: suite 'base_b' would get job id 'base_b', which suite 'base.b' already has",
        "  help: rename one of the suites (letters, digits, '-' and '_' are kept; others become '_')",
        "cigen.yml:24: job-id-clash: suite 'finish' would get job id 'finish', which cigen itself already has",
        "  help: rename one of the suites (letters, digits, '-' and '_' are kept; others become '_')",
        "cigen.yml:30: expression-in-config: workflows.setup.1: 'echo ${{ secrets.TOKEN }}' contains '${{'; "
        "GitHub would evaluate it where cigen places it",
        "  help: write the value out, or pass it to the job through the environment",
    ]


@pytest.mark.parametrize(
    "package",
    [
        "cigen==0.1.0",  # a name on an index: whoever publishes it next runs in the gate
        "git+https://github.com/octo/cigen@main",  # a branch moves
        "git+https://github.com/octo/cigen@0123456",  # a short sha can collide
        "git+https://github.com/octo/cigen",  # the default branch
    ],
)
def test_cigen_is_installed_only_from_an_immutable_reference(package):
    text = MINIMAL + f"workflows:\n  cigen_package: {package}\n"
    (message,) = messages(text)
    assert message.startswith(f"cigen.yml:13: mutable-cigen-package: workflows.cigen_package {package!r} can change")


def test_pinned_package_and_dot_parse_but_package_and_requirements_together_do_not():
    pinned = "git+https://github.com/octo/cigen@0123456789abcdef0123456789abcdef01234567"
    assert (
        parse_config(MINIMAL + f"workflows:\n  cigen_package: {pinned}\n", "cigen.yml").workflows.cigen_package
        == pinned
    )
    assert parse_config(MINIMAL + "workflows:\n  cigen_package: .\n", "cigen.yml").workflows.cigen_package == "."
    both = MINIMAL + f"workflows:\n  cigen_package: {pinned}\n  cigen_requirements: ci/cigen.txt\n"
    assert messages(both) == ["cigen.yml:14: cigen-installed-twice: give cigen_package or cigen_requirements, not both"]


def test_a_timings_loop_needs_its_file_and_two_outputs_cannot_share_a_file():
    text = MINIMAL + "workflows:\n  timings: {cron: '0 6 * * 1'}\n  files: {nightly: ci.yml, per-commit: ci.yml}\n"
    assert messages(text) == ["cigen.yml:13: config-schema: workflows.timings: 'file' is a required property"]
    text = text.replace("{cron:", "{file: t.json, cron:")
    assert [m.splitlines()[0] for m in messages(text)] == [
        "cigen.yml:14: workflow-file-clash: workflows.files: 'nightly' and 'per-commit' are both written to ci.yml",
    ]


def test_timings_is_a_file_alone_or_the_loop_with_its_file():
    alone = parse_config(MINIMAL + "workflows:\n  timings: t.json\n", "cigen.yml").workflows
    assert (alone.timings, alone.timings_loop) == ("t.json", None)
    loop = parse_config(MINIMAL + "workflows:\n  timings: {file: t.json, cron: '0 6 * * 1'}\n", "cigen.yml").workflows
    assert (loop.timings, loop.timings_loop) == ("t.json", TimingsLoop(cron="0 6 * * 1"))
    assert messages(MINIMAL + "workflows:\n  timings: /t.json\n") == [
        "cigen.yml:13: config-schema: workflows.timings: '/t.json' does not match '^[A-Za-z0-9_.][A-Za-z0-9_./-]*$'"
    ]


def test_the_old_calibrate_key_names_its_new_one(tmp_path):
    """A config written before the rename: one line at the key's line, exit 2, no traceback."""
    old = MINIMAL + "workflows:\n  timings: t.json\n  calibrate: {cron: '0 6 * * 1'}\n"
    assert messages(old) == ["cigen.yml:14: config-renamed: workflows.calibrate is now workflows.timings"]
    assert messages(MINIMAL + "workflows:\n  files:\n    calibrate: t.yml\n") == [
        "cigen.yml:14: config-renamed: workflows.files.calibrate is now workflows.files.timings"
    ]
    (tmp_path / "cigen.yml").write_text(old)
    result = CliRunner().invoke(cli, ["lint", "--root", str(tmp_path)])
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"{tmp_path / 'cigen.yml'}:14: config-renamed: workflows.calibrate is now workflows.timings\n",
    )


def test_workflow_file_names_follow_the_outputs_table():
    """`workflows.files` accepts exactly the outputs of OUTPUT_NAMES (filled into the schema at
    load), each a plain .yml name: an unknown output or a path is a schema error at its line."""
    renamed = parse_config(MINIMAL + "workflows:\n  files: {timings: measure.yml, cpu-tests: cpu.yaml}\n", "x")
    assert renamed.workflows.file_name("timings") == "measure.yml"
    assert renamed.workflows.file_name("cpu-tests") == "cpu.yaml"
    assert renamed.workflows.file_name("nightly") == "cigen-nightly.yml"
    unknown = messages(MINIMAL + "workflows:\n  files: {weekly: weekly.yml}\n")
    assert [m.split(": ")[:2] for m in unknown] == [["cigen.yml:13", "config-schema"]]
    assert "unknown key 'weekly' (known: cpu-tests, nightly, per-commit, redispatch, rerun-test, timings)" in unknown[0]
    outside = messages(MINIMAL + "workflows:\n  files: {nightly: ../evil.yml}\n")
    assert [m.split(": ")[:2] for m in outside] == [["cigen.yml:13", "config-schema"]]


def test_a_pools_preflight_keys_are_typed_and_checked():
    keys = "preflight: {timeout_seconds: 5, max_used_mib: 4096}"
    text = MINIMAL.replace("setup_minutes: 2}", f"setup_minutes: 2, {keys}}}")
    assert text != MINIMAL
    pool = next(iter(parse_config(text, "cigen.yml").pools.values()))
    assert (pool.preflight.timeout_seconds, pool.preflight.max_used_mib, pool.preflight.wait_seconds) == (5, 4096, None)
    for bad in ("{timeout_seconds: 0}", "{timeout_seconds: 900}", "{min_free_mib: -1}", "{retries: 2}"):
        problems = messages(MINIMAL.replace("setup_minutes: 2}", f"setup_minutes: 2, preflight: {bad}}}"))
        assert [p.split(": ")[1] for p in problems] == ["config-schema"], (bad, problems)


def test_the_timings_loops_plausibility_bounds_are_validated():
    loop = "workflows:\n  timings: {file: .github/cigen/timings.json, cron: '0 6 * * 1'%s}\n"
    config = parse_config(MINIMAL + loop % ", max_factor: 5, min_seconds: 0.5, min_samples: 3", "cigen.yml")
    assert config.workflows.timings_loop.bounds == PlausibilityBounds(5, 0.5, 3)
    assert parse_config(MINIMAL + loop % "", "cigen.yml").workflows.timings_loop.bounds == PlausibilityBounds(
        3.0, 1.0, 5
    )
    bad = messages(MINIMAL + loop % ", max_factor: 1, min_seconds: -1, min_samples: 0")
    assert bad == [
        "cigen.yml:13: config-schema: workflows.timings.max_factor: 1 is less than or equal to the minimum of 1",
        "cigen.yml:13: config-schema: workflows.timings.min_samples: 0 is less than the minimum of 1",
        "cigen.yml:13: config-schema: workflows.timings.min_seconds: -1 is less than the minimum of 0",
    ]
