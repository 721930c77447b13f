"""How far a prediction is from measured data: the GPU sweep's thresholds, packaged with cigen.

generator/data/memory_validation.json is written by `benchmarks/fit_memory_terms.py --validation-out`
from benchmarks/results/gpu_sweep/validate/ (a test keeps the two equal). A prediction is "validated"
when a run measured the same model shape (its config's memory fields, whatever its name), the same tp,
on a card of the same size (within 0.1%) with its whole memory free; anything else is "extrapolated",
with the reason. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources

from generator.memory.advisor import Advice
from generator.memory.hfmodel import ModelShape, load_model

CARD_TOLERANCE = 0.001  # nvidia-smi totals of one GPU model differ by a few MiB between drivers


@dataclass(frozen=True)
class Validation:
    status: str  # "validated" or "extrapolated"
    detail: str


def shape_key(model: ModelShape) -> tuple:
    """What decides a model's memory: every config field, not its name or where it was read from."""
    return tuple(getattr(model, f.name) for f in fields(model) if f.name not in ("name", "source"))


@cache
def measured_runs() -> tuple[dict, ...]:
    text = resources.files("generator").joinpath("data/memory_validation.json").read_text(encoding="utf-8")
    return tuple(json.loads(text)["runs"])


def _same_card(a: float, b: float) -> bool:
    return abs(a - b) <= CARD_TOLERANCE * b


def validation(advice: Advice, checker: str | None, action: str | None) -> Validation:
    """Where `advice` stands against the measured runs; `checker`/`action`: the weight checker's case, if any."""
    key = shape_key(advice.model)
    runs = [run for run in measured_runs() if shape_key(load_model(run["model"])) == key]
    if not runs:
        known = ", ".join(sorted({run["model"] for run in measured_runs()}))
        return Validation("extrapolated", f"no measured run of this model shape (measured: {known})")
    same_tp = [run for run in runs if run["tp"] == advice.tp]
    if not same_tp:
        tps = ", ".join(str(tp) for tp in sorted({run["tp"] for run in runs}))
        return Validation("extrapolated", f"tp={advice.tp} not measured for this model (measured: tp={tps})")
    cards = [run for run in same_tp if _same_card(advice.card.total_mib, run["card_mib"])]
    if not cards:
        sizes = ", ".join(f"{mib:.0f}" for mib in sorted({run["card_mib"] for run in same_tp}))
        return Validation(
            "extrapolated",
            f"no measured card of {advice.card.total_mib:.0f} MiB for this model and tp (measured: {sizes} MiB)",
        )
    run = cards[0]
    device = run["device"].removeprefix("NVIDIA ")
    where = (
        f"on an {device} capped to {run['card_mib']:.0f} MiB"
        if run["capped"]
        else f"on an {device} of {run['card_mib']:.0f} MiB, uncapped"
    )
    if advice.card.free_mib is not None:
        return Validation("extrapolated", f"a card with {advice.card.free_mib:.0f} MiB free; measured idle, {where}")
    case = next((c for c in run["cases"] if (c["code"], c["action"]) == (checker, action)), None)
    if case is None:
        return Validation("validated", f"model, tp and card measured {where}; the configured peak itself is not")
    if case["threshold_measured"] is None:
        return Validation("validated", f"{checker} {action}: no fraction fits, as measured {where}")
    return Validation(
        "validated",
        f"{checker} {action}: threshold measured {case['threshold_measured']:.4f} "
        f"{where}; predicted {advice.max_fit_mem_fraction:.4f}",
    )
