"""mem: the GPU-memory advisor."""

from __future__ import annotations

import json
from pathlib import Path

import click

from generator.cli.common import FORMAT, format_table, reports_user_errors
from generator.config_fields import MODEL_TEST
from generator.errors import UserError
from generator.memory.advisor import (
    CHECKER_CODES,
    DEFAULT_CHECKER,
    DEFAULT_SGLANG,
    MARGIN_MIB,
    SGLANG_DEFAULTS,
    Advice,
    advise,
)
from generator.memory.cards import resolve_cards
from generator.memory.hfmodel import load_model
from generator.memory.validation import validation


def _extra_peak(value: str) -> str | float:
    """'weight-checker' or a number of MiB."""
    if value == "weight-checker":
        return value
    try:
        peak = float(value)
    except ValueError:
        peak = -1.0
    if peak < 0:
        raise UserError(
            "--extra-peak", 0, "bad-extra-peak", f"--extra-peak must be 'weight-checker' or MiB >= 0, got '{value}'"
        )
    return peak


def _mem_row(advice: Advice, data_status: str) -> tuple:
    data = advice.to_json()
    recommended = data["recommended_mem_fraction"]
    return (
        advice.card.name,
        f"{advice.card.total_mib:.0f}",
        f"{advice.default_mem_fraction:.3f}",
        f"{advice.mem_fraction:.3f}",
        f"{data['static_pool_mib']:.0f}",
        f"{data['headroom_mib']:.0f}",
        f"{advice.peak_mib:.0f}",
        "yes" if data["fits"] else "no",
        f"{advice.max_fit_mem_fraction:.3f}",
        "none" if recommended is None else f"{recommended:g}",
        data_status,
    )


@click.command("mem")
@click.option(
    "--model",
    "model_spec",
    required=True,
    help="Built-in model name (e.g. Qwen3-0.6B) or a Hugging Face config.json (or its folder).",
)
@click.option(
    "--gpu-mem-gib",
    type=click.FloatRange(min=1),
    multiple=True,
    help="GPU memory in GiB (nvidia-smi total / 1024); repeat for a table.",
)
@click.option("--pool", "pools", multiple=True, help="A pool name from the config, for its gpu_mem_gib; repeatable.")
@click.option(
    "--gpu-free-mib",
    type=click.FloatRange(min=0),
    help="Free MiB before the server starts (nvidia-smi memory.free); default: an idle card.",
)
@click.option(
    "--tp",
    type=click.IntRange(min=1),
    default=MODEL_TEST.default("tp"),
    show_default=True,
    help="Tensor parallelism: GPUs the model is split over.",
)
@click.option("--mem-fraction", type=float, help="Also evaluate this --mem-fraction-static (default: sglang's own).")
@click.option(
    "--extra-peak",
    default=MODEL_TEST.default("extra_peak"),
    show_default=True,
    help="The test's own GPU peak: 'weight-checker' (from the model's largest tensor) or MiB.",
)
@click.option(
    "--checker",
    type=click.Choice(CHECKER_CODES),
    default=DEFAULT_CHECKER,
    show_default=True,
    help="Which weight-checker code allocates: unchunked (sglang at the fix) or chunked (later).",
)
@click.option(
    "--sglang",
    "sglang_defaults",
    type=click.Choice(sorted(SGLANG_DEFAULTS)),
    default=DEFAULT_SGLANG,
    show_default=True,
    help="Whose default-fraction tiers to apply.",
)
@click.option(
    "--margin-mib",
    type=click.FloatRange(min=0),
    default=MARGIN_MIB,
    show_default=True,
    help="Safety margin on top of the peak.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Repository root (for --pool and relative config.json paths).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="cigen.yml for --pool (default: ROOT/cigen.yml, else the embedded default).",
)
@FORMAT
@reports_user_errors
def mem_command(
    model_spec: str,
    gpu_mem_gib: tuple[float, ...],
    pools: tuple[str, ...],
    gpu_free_mib: float | None,
    tp: int,
    mem_fraction: float | None,
    extra_peak: str,
    checker: str,
    sglang_defaults: str,
    margin_mib: float,
    root: Path,
    config_path: Path | None,
    fmt: str,
) -> None:
    """GPU-memory advisor: does a model test fit a GPU, at which mem-fraction?"""
    model = load_model(model_spec, root)
    peak = _extra_peak(extra_peak)
    cards, warnings = resolve_cards(root, config_path, gpu_mem_gib, pools, gpu_free_mib, tp)
    for warning in warnings:
        click.echo(warning, err=True)
    advice = [advise(model, card, tp, peak, checker, margin_mib, sglang_defaults, mem_fraction) for card in cards]
    checks = [validation(a, a.checker, a.peak_action) for a in advice]
    if fmt == "json":
        payload = [
            {**a.to_json(), "validation": {"status": c.status, "detail": c.detail}} for a, c in zip(advice, checks)
        ]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    header = (
        "gpu",
        "total_mib",
        "default_m",
        "m",
        "pool_mib",
        "headroom_mib",
        "peak_mib",
        "fits",
        "max_fit_m",
        "recommended_m",
    )
    header += ("data",)
    click.echo(
        f"{model.name} ({model.source}), tp={tp}, sglang defaults {sglang_defaults}; peak: {advice[0].peak_source}"
    )
    click.echo(format_table(header, [_mem_row(a, c.status) for a, c in zip(advice, checks)]))
    term = advice[0].allocator_mib
    click.echo(
        f"fits: headroom >= peak + allocator term ({term:.0f} MiB) + {margin_mib:g} MiB margin; "
        "recommended: sglang's default when it fits, else the largest safe value"
    )
    for a, check in zip(advice, checks):
        click.echo(f"{a.card.name}: {check.status}: {check.detail}")
