"""`cigen lint`'s memory-fit check of `model_tests`, through the real CLI."""

from __future__ import annotations

from click.testing import CliRunner

from generator.cli import cli
from generator.memory.advisor import pinned_mem_fraction
from tests.support.files import write_files

CONFIG = """\
version: 1
tests:
  include: ["t/**/*.py"]
pools:
  small: {labels: [1-gpu-5090], gpu: NVIDIA RTX 5090, gpu_mem_gib: 31.84, gpus: 1, setup_minutes: 2}
  large: {labels: [1-gpu-h100], gpu: NVIDIA H100, gpu_mem_gib: 79.65, gpus: 1, setup_minutes: 2}
  mystery: {labels: [1-gpu-x], gpus: 1, setup_minutes: 2}
suites:
  nightly-1-gpu:
    trigger: nightly
    pools: [large]
    step_timeout_minutes: 60
    shard_budget_minutes: 60
model_tests:
  t/test_wc.py:
    model: Qwen3-0.6B
    pools: [small, large]
  t/test_pinned.py:
    model: Qwen3-0.6B
    pools: [small, large]
    server_args: "--mem-fraction-static 0.85 --disable-radix-cache"
  t/test_tuned.py:
    model: Qwen/Qwen3-0.6B
    pools: [small]
    server_args: "--mem-fraction-static=0.7"
  t/test_huge.py:
    model: Qwen3-8B
    extra_peak: 70000
  t/test_tp.py:
    model: Qwen3-0.6B
    tp: 2
  t/test_unknown_gpu.py:
    model: Qwen3-0.6B
    pools: [mystery]
  t/test_bad_model.py:
    model: models/missing.json
  t/test_bad_args.py:
    model: Qwen3-0.6B
    server_args: "--mem-fraction-static lots"
  t/test_nobody.py:
    model: Qwen3-0.6B
workflows:
  action: octo/cigen@0123456789abcdef0123456789abcdef01234567
  action_version: v0.1.0
"""
NIGHTLY = (
    'register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)\n\nif __name__ == "__main__":\n    main()\n'
)
FILES = [
    "test_wc",
    "test_pinned",
    "test_tuned",
    "test_huge",
    "test_tp",
    "test_unknown_gpu",
    "test_bad_model",
    "test_bad_args",
]


def test_memory_fit_problems(tmp_path, monkeypatch):
    write_files(tmp_path, {"cigen.yml": CONFIG, **{f"t/{name}.py": NIGHTLY for name in FILES}})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["lint"])
    assert result.exit_code == 2
    # 31.84 GiB = 32604.16 MiB: P = 31472.16, default 0.874: the calibration card less 3 MiB, so 206 MiB
    # free (test_memory.py derives the 207); at 0.85, 890. The need: the unchunked compare (2077)
    # + the allocation slack (42) = 2119; 70000 + 42 for a configured peak.
    assert result.stderr.splitlines() == [
        "cigen.yml:35: unknown-model: model test 't/test_bad_model.py': "
        "no config.json at 'models/missing.json' and no built-in model of that name",
        "cigen.yml:37: bad-server-args: model test 't/test_bad_args.py': "
        "--mem-fraction-static must be a number between 0 and 1, got 'lots'",
        "cigen.yml:40: model-test-unregistered: model test 't/test_nobody.py' is not a registered test file",
        '  help: register it, e.g. register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)',
        "t/test_huge.py:1: mem-never-fits: suite 'nightly-1-gpu' on pool 'large': Qwen3-8B does not fit a 79.65 GiB "
        "GPU at any --mem-fraction-static (the test needs 70042 + 512 MiB margin)",
        "  help: run it on a pool with larger GPUs, or raise tp",
        "t/test_pinned.py:1: mem-no-fit: suite 'nightly-1-gpu' on pool 'small': --mem-fraction-static 0.85 leaves "
        "890 MiB free; the test needs 2119 + 512 MiB margin",
        "  help: use --mem-fraction-static 0.79 (cigen mem --model Qwen3-0.6B --pool small)",
        "t/test_tp.py:1: tp-over-pool-gpus: suite 'nightly-1-gpu' on pool 'large': tp=2 needs 2 GPUs, the pool has 1",
        "t/test_unknown_gpu.py:1: warning: mem-unknown-gpu: suite 'nightly-1-gpu' on pool 'mystery': "
        "the pool declares no gpu_mem_gib, so Qwen3-0.6B cannot be checked",
        "t/test_wc.py:1: warning: mem-default-no-fit: suite 'nightly-1-gpu' on pool 'small': sglang's default "
        "--mem-fraction-static 0.874 leaves 206 MiB free; the test needs 2119 + 512 MiB margin; action.yml passes 0.79",
        "  help: a run without action.yml needs --mem-fraction-static 0.79 in the test's server args",
        "6 errors, 2 warnings in 8 files",
        "      1  error   bad-server-args",
        "      1  error   mem-never-fits",
        "      1  error   mem-no-fit",
        "      1  error   model-test-unregistered",
        "      1  error   tp-over-pool-gpus",
        "      1  error   unknown-model",
        "      1  warning mem-default-no-fit",
        "      1  warning mem-unknown-gpu",
    ]


def test_model_test_that_fits_everywhere_is_silent(tmp_path, monkeypatch):
    config = (
        CONFIG[: CONFIG.index("model_tests:")]
        + "model_tests:\n"
        + "  t/test_wc.py: {model: Qwen3-0.6B, server_args: '--mem-fraction-static 0.7', pools: [small, large]}\n"
    )
    config += CONFIG[CONFIG.index("workflows:") :]
    write_files(tmp_path, {"cigen.yml": config, "t/test_wc.py": NIGHTLY})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["lint", "--strict"])
    assert (result.exit_code, result.stderr) == (0, "0 errors, 0 warnings in 1 file\n")


def test_pinned_mem_fraction_forms():
    assert pinned_mem_fraction("") is None
    assert pinned_mem_fraction("--tp 1 --mem-fraction-static 0.7") == 0.7
    assert pinned_mem_fraction("--mem-fraction-static=0.65 --x") == 0.65
    for args, message in [
        ("--mem-fraction-static", "--mem-fraction-static needs a value"),
        ("--mem-fraction-static 1.2", "--mem-fraction-static must be a number between 0 and 1, got '1.2'"),
    ]:
        try:
            pinned_mem_fraction(args)
        except ValueError as error:
            assert str(error) == message
        else:
            raise AssertionError(f"no error for {args!r}")
