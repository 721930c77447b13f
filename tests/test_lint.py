"""Model-level lint checks, on small trees and on the real corpus."""

from __future__ import annotations

from pathlib import Path

from generator.config import load_config
from generator.lint import counts_by_code, lint
from generator.pipeline import build, read_inputs
from generator.tree import scan_tree
from tests.support.files import write_files

CONFIG = """\
version: 1
tests:
  include: ["t/**/*.py"]
pools:
  small: {labels: [1-gpu-5090], gpu: NVIDIA RTX 5090, gpu_mem_gib: 31.84, gpus: 1, setup_minutes: 2}
  large: {labels: [1-gpu-h100], gpu: NVIDIA H100, gpu_mem_gib: 79.65, gpus: 1, setup_minutes: 2}
runner_configs:
  1-gpu-small: small
  1-gpu-large: large
suites:
  base-b-test-1-gpu-small:
    trigger: per-commit
    runner_config: 1-gpu-small
    step_timeout_minutes: 10
    shard_budget_minutes: 5
    groups: [[t/a.py, t/missing.py]]
  nightly-1-gpu:
    trigger: nightly
    pools: [large]
    step_timeout_minutes: 60
    shard_budget_minutes: 60
  retired:
    trigger: nightly
    pools: [large]
    step_timeout_minutes: 60
    shard_budget_minutes: 60
    enabled: false
  nobody:
    trigger: nightly
    pools: [large]
    step_timeout_minutes: 60
    shard_budget_minutes: 60
"""
MAIN = '\nif __name__ == "__main__":\n    main()\n'


def lint_tree(tmp_path: Path, files: dict[str, str], monkeypatch) -> list[str]:
    write_files(tmp_path, {"cigen.yml": CONFIG, **{k: v + MAIN for k, v in files.items()}})
    monkeypatch.chdir(tmp_path)  # messages name cigen.yml as the user would see it
    problems = build(read_inputs(Path("."), use_cache=False)).problems  # what lint, plan and render all report
    return [line for problem in problems for line in problem.format().splitlines()]


def test_each_model_check(tmp_path, monkeypatch):
    reported = lint_tree(
        tmp_path,
        {
            "t/a.py": "register_cuda_ci(est_time=60, stage='base-b', runner_config='1-gpu-small')",
            "t/typo.py": "register_cuda_ci(est_time=60, suite='nightly-1-gpus', nightly=True)",
            "t/flag.py": "register_cuda_ci(est_time=60, suite='nightly-1-gpu')",
            "t/long.py": "register_cuda_ci(est_time=900, stage='base-b', runner_config='1-gpu-small')",
            "t/old.py": "register_cuda_ci(est_time=60, suite='retired', nightly=True)",
            "t/twice.py": "register_cuda_ci(est_time=60, suite='nightly-1-gpu', nightly=True)\n"
            "register_cuda_ci(est_time=70, suite='nightly-1-gpu', nightly=True)",
            "t/amd.py": "register_amd_ci(est_time=60, suite='not-our-backend')",
        },
        monkeypatch,
    )
    assert reported == [
        "cigen.yml:11: group-member-missing: suite 'base-b-test-1-gpu-small': "
        "group member 't/missing.py' is not an enabled registration of this suite",
        "cigen.yml:28: warning: empty-suite: suite 'nobody' has no enabled registrations; no job is generated",
        "t/flag.py:1: warning: nightly-mismatch: nightly=False but suite 'nightly-1-gpu' runs nightly; "
        "sglang's run_suite.py would never run it (cigen runs it by its suite)",
        "  help: set nightly=True",
        "t/long.py:1: warning: over-shard-budget: 900s is longer than suite 'base-b-test-1-gpu-small' allows one shard "
        "(5 min = 300s); planned alone in shard 1",
        "  help: split the file, or raise shard_budget_minutes (and step_timeout_minutes) for the suite",
        "t/old.py:1: warning: suite-not-run: suite 'retired' has no job: it is disabled in the config; "
        "this registration never runs",
        "t/twice.py:2: duplicate-registration: cuda suite 'nightly-1-gpu' is registered more than once in this file",
        "t/typo.py:1: unknown-suite: cuda suite 'nightly-1-gpus' is not in cigen.yml",
        "  help: did you mean 'nightly-1-gpu'?",
    ]


def test_runner_config_must_agree_with_the_suite_pool(tmp_path):
    config = CONFIG.replace("runner_config: 1-gpu-small\n", "pools: [large]\n")
    root = write_files(
        tmp_path,
        {
            "cigen.yml": config,
            "t/a.py": "register_cuda_ci(est_time=60, stage='base-b', runner_config='1-gpu-small')" + MAIN,
        },
    )
    loaded = load_config(None, root)
    problems = [
        p.format() for p in lint(loaded, scan_tree(root, loaded.include, loaded.exclude)) if p.code == "pool-mismatch"
    ]
    assert problems == [
        "t/a.py:1: warning: pool-mismatch: runner_config '1-gpu-small' means pool 'small', "
        "but suite 'base-b-test-1-gpu-small' runs on large"
    ]


def test_corpus_nightly_mismatches_are_exactly_the_contradicting_registrations(synth_tree, corpus):
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    found = {(p.path, p.line) for p in lint(config, scan) if p.code == "nightly-mismatch"}
    expected = set()
    for entry in corpus["files"]:
        for call in entry["calls"]:
            kwargs = call["kwargs"]
            suite = kwargs.get("suite") or (
                f"{kwargs['stage']}-test-{kwargs['runner_config']}" if "stage" in kwargs else None
            )
            if call["func"] != "register_cuda_ci" or kwargs.get("disabled") or suite not in config.suites:
                continue
            trigger = config.suites[suite].trigger
            if trigger in ("per-commit", "nightly") and bool(kwargs.get("nightly", False)) != (trigger == "nightly"):
                expected.add((entry["file"], call["lineno"]))
    assert found == expected
    assert len(found) >= 1  # the real corpus has such mismatches


def test_corpus_lint_has_no_errors_and_only_known_codes(synth_tree):
    problems = build(read_inputs(synth_tree.root)).problems
    assert [p.format() for p in problems if p.is_error] == []
    codes = {code for _, code, _ in counts_by_code(problems)}
    assert codes == {
        "nightly-mismatch",
        "suite-not-run",
        "empty-suite",
        "over-shard-budget",
        "shards-over-budget",
        "est-over-file-timeout",
        "mem-default-no-fit",
        "model-test-without-action",  # the embedded default pins no cigen action: the weight checker runs in its shard
    }
    # Files longer than their suite's shard: sglang's 2-GPU perf suites run 1-2 h files in a 30 min step.
    over = sorted(p.path for p in problems if p.code == "over-shard-budget")
    assert over == ["test/registered/perf/test_text_models_perf.py", "test/registered/perf/test_vlms_perf.py"]
    # Files registered for longer than their suite lets one file run (sglang's stress suite: 2700 s vs 1200 s).
    killed = {p.path.rsplit("/", 1)[-1] for p in problems if p.code == "est-over-file-timeout"}
    assert killed == {
        "test_deepseek_r1_fp8_trtllm_backend.py",
        "test_vlms_perf.py",
        "test_kimi_k26_nvfp4_dflash.py",
        "test_stress_deepseek_v3.py",
        "test_stress_glm_4_6.py",
        "test_stress_kimi_k2.py",
        "test_stress_qwen3_235b.py",
    }


def install_problems(tmp_path: Path, monkeypatch, workflows: str, files: dict[str, str]) -> list[str]:
    """The errors about where jobs get cigen from, in a repository that is not cigen (first lines)."""
    config = CONFIG.replace("    groups: [[t/a.py, t/missing.py]]\n", "") + "workflows:\n" + workflows
    test = "register_cuda_ci(est_time=60, suite='nightly-1-gpu', nightly=True)" + MAIN
    write_files(
        tmp_path, {"pyproject.toml": '[project]\nname = "gpu-app"\n', "cigen.yml": config, "t/a.py": test, **files}
    )
    monkeypatch.chdir(tmp_path)
    return [problem.format().splitlines()[0] for problem in build(read_inputs(Path("."), use_cache=False)).errors]


def config_line(text: str) -> int:
    """The line of `text` in the config install_problems wrote."""
    return Path("cigen.yml").read_text().splitlines().index(text) + 1


def test_dot_and_a_local_action_are_only_for_cigens_own_repository(tmp_path, monkeypatch):
    found = install_problems(tmp_path, monkeypatch, "  cigen_package: .\n  action: ./\n", {})
    assert found == [
        f"cigen.yml:{config_line('  cigen_package: .')}: mutable-cigen-package: workflows.cigen_package '.' installs "
        "this repository, which is not cigen",
        f"cigen.yml:{config_line('  action: ./')}: action-not-found: "
        f"workflows.action './': there is no action.yml there in {Path('.')}",
    ]
    write_files(tmp_path, {"action.yml": "name: local\nruns: {using: composite, steps: []}\n"})
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "cigen"\n')
    assert build(read_inputs(Path("."), use_cache=False)).errors == []


def test_every_requirement_of_cigen_requirements_carries_a_hash(tmp_path, monkeypatch):
    requirements = (
        "--index-url https://pypi.org/simple\n"
        "click==8.1.7 \\\n    --hash=sha256:ae74fb96c20a0277a1d615f1e4d73c8414f5a98db8b799a7931d1582f3390c28\n"
        "jinja2==3.1.4\n"
        "# a comment\n"
        "pyyaml==6.0.2  # no hash either\n"
    )
    found = install_problems(
        tmp_path, monkeypatch, "  cigen_requirements: ci/cigen.txt\n", {"ci/cigen.txt": requirements}
    )
    assert found == [
        "ci/cigen.txt:4: requirement-unhashed: jinja2==3.1.4 has no --hash=sha256: "
        "(pip install --require-hashes refuses it)",
        "ci/cigen.txt:6: requirement-unhashed: pyyaml==6.0.2 has no --hash=sha256: "
        "(pip install --require-hashes refuses it)",
    ]
    (tmp_path / "ci" / "cigen.txt").unlink()
    (missing,) = [p.format() for p in build(read_inputs(Path("."), use_cache=False)).errors]
    assert missing.startswith("ci/cigen.txt: requirements-unreadable: cannot read workflows.cigen_requirements")


def ci_path_warnings(tmp_path: Path, monkeypatch, paths: str) -> list[str]:
    """The ci-files-outside-paths warnings for a pull-request path filter (first lines)."""
    config = CONFIG.replace("    groups: [[t/a.py, t/missing.py]]\n", "")
    config += f"workflows:\n  pull_requests:\n    label: run-ci\n    paths: {paths}\n"
    test = "register_cuda_ci(est_time=60, suite='nightly-1-gpu', nightly=True)" + MAIN
    write_files(tmp_path, {"cigen.yml": config, "t/a.py": test})
    monkeypatch.chdir(tmp_path)
    problems = build(read_inputs(Path("."), use_cache=False)).problems
    return [p.format().splitlines()[0] for p in problems if p.code == "ci-files-outside-paths"]


def test_a_path_filter_that_leaves_out_the_ci_files_is_a_warning(tmp_path, monkeypatch):
    paths = '["t/**", "!**/*.md"]'
    assert ci_path_warnings(tmp_path, monkeypatch, paths) == [
        f"cigen.yml:{config_line('    paths: ' + paths)}: warning: ci-files-outside-paths: "
        "workflows.pull_requests.paths leaves out cigen.yml, .github/workflows/cigen-per-commit.yml, "
        ".github/cigen/plan.json: a pull request changing only the CI would run none of it, so cigen adds "
        "cigen.yml, its workflows and .github/cigen/** to the gate"
    ]


def test_a_path_filter_that_lists_the_ci_files_is_quiet(tmp_path, monkeypatch):
    paths = '["t/**", "cigen.yml", ".github/workflows/cigen-*.yml", ".github/cigen/**"]'
    assert ci_path_warnings(tmp_path, monkeypatch, paths) == []
