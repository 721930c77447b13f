#!/usr/bin/env python3
"""Fit the advisor's allocator terms from the GPU sweep's raw data; check its allocator rules on the way.

Input: the sweep's JSON of one GPU run (benchmarks/results/gpu_sweep/fit/*.json, one file per model and
tp; of a tp > 1 run, rank 0's). Each measured threshold m brackets what the checker's op really needs
from the card: it succeeded at m and failed at m + resolution, and the advisor's allocator rules give
the headroom at both fractions to the MiB (checked here against the free memory measured at m). So

    headroom(m + resolution) - peak  <  need - peak  <=  headroom(m) - peak

Fitted (the smallest constants that cover the lower end of every bracket, so the advisor errs safe on
every recorded case):
    ALLOCATION_SLACK_MIB          over the brackets of every case but the chunked compare of a tensor of
                                  several chunks, rounded up to the MiB
    CHUNKED_COMPARE_FRAGMENTATION (the chunked compare's brackets - slack) / the fp32 bytes of one chunk,
                                  rounded up to 0.01
    NCCL_MIB                      free at start - P - the advisor's server context, on a tp > 1 GPU
                                  as it is (uncapped)
Then each model is left out in turn: constants fitted on the others, and its thresholds predicted
with them, to show how the fit carries to a shape it never saw. Writes benchmarks/results/memory_fit.json
(`--out`) and prints a summary; `--check` exits 1 when the advisor's constants differ from the fit.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

for _base in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent):
    if (_base / "generator" / "memory" / "advisor.py").is_file():
        sys.path.insert(0, str(_base))
        break

from generator.memory import advisor  # noqa: E402
from generator.memory.advisor import CHECKER_CHUNK_NUMEL, MIB, SERVER_CONTEXT_MIB, Card, advise  # noqa: E402
from generator.memory.hfmodel import load_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FIT_DATA = RESULTS / "gpu_sweep" / "fit"
VALIDATION_DATA = RESULTS / "gpu_sweep" / "validate"
PACKAGED = RESULTS.parent.parent / "generator" / "data" / "memory_validation.json"
RESOLUTION = 0.0001  # the sweep's bisection step in m
CHUNK_FP32_MIB = 4 * CHECKER_CHUNK_NUMEL / MIB
CODES, ACTIONS = ("unchunked", "chunked"), ("compare", "reset")


@dataclass(frozen=True)
class Bracket:
    model: str
    tp: int
    card: str  # "capped 32607" or "uncapped 143771"
    case: str
    fragmented: bool  # a chunked compare of a tensor of several chunks
    peak_mib: float
    low_mib: float  # need - peak is above this ...
    high_mib: float  # ... and at most this
    free_at_threshold_measured_mib: float
    free_at_threshold_modelled_mib: float
    threshold: float
    advisor_card: Card
    measured_p_card: Card
    client_mib: float


def runs(folder: Path) -> list[dict]:
    """Every model's run in `folder`: single-GPU files and rank 0 of a tp > 1 run."""
    files = sorted(p for p in folder.glob("*-tp*.json") if p.stem.endswith("-tp1") or p.stem.endswith("-rank0"))
    return [json.loads(p.read_text()) for p in files]


def _advisor_card(run: dict, card: dict) -> Card:
    if card["capped"]:
        return Card("emulated", card["card_mib"])
    smi = run["nvidia_smi"]
    return Card(smi["name"], smi["total_mib"], smi["free_mib"])


def brackets(data: list[dict]) -> list[Bracket]:
    out = []
    for run in data:
        model, tp = load_model(run["model"]), run["tp"]
        for card in run["cards"]:
            if not card.get("cases"):
                continue
            nccl = advisor.NCCL_MIB if tp > 1 else 0.0
            measured = Card("measured P", card["card_mib"], card["server_free_mib"] + SERVER_CONTEXT_MIB + nccl)
            client = card.get("client_context_mib", advisor.CLIENT_CONTEXT_MIB)
            exact = replace(advise(model, measured, tp), client_context_mib=client)
            for case in card["cases"]:
                m = case["threshold_measured"]
                if m is None:
                    continue
                peak = case["peak_mib_advisor"]
                fragmented = (
                    case["code"] == "chunked" and case["action"] == "compare" and case["numel"] > CHECKER_CHUNK_NUMEL
                )
                out.append(
                    Bracket(
                        run["model"],
                        tp,
                        f"{'capped' if card['capped'] else 'uncapped'} {card['card_mib']:.0f}",
                        case["case"],
                        fragmented,
                        peak,
                        exact.headroom_mib(m + RESOLUTION) - peak,
                        exact.headroom_mib(m) - peak,
                        case["free_before_op_at_threshold_mib"],
                        exact.headroom_mib(m),
                        m,
                        _advisor_card(run, card),
                        measured,
                        client,
                    )
                )
    return out


def fit(bracket_list: list[Bracket]) -> dict:
    slack = math.ceil(max(b.low_mib for b in bracket_list if not b.fragmented))
    fragmentation = max(b.low_mib for b in bracket_list if b.fragmented) - slack
    return {
        "ALLOCATION_SLACK_MIB": float(slack),
        "CHUNKED_COMPARE_FRAGMENTATION": math.ceil(fragmentation / CHUNK_FP32_MIB * 100) / 100,
    }


def nccl_mib(data: list[dict]) -> float | None:
    """Free at start - P - the advisor's context, on the GPU as it is, from the tp > 1 runs."""
    values = [
        run["nvidia_smi"]["free_mib"] - card["server_free_mib"] - SERVER_CONTEXT_MIB
        for run in data
        if run["tp"] > 1
        for card in run["cards"]
        if not card["capped"]
    ]
    return float(math.ceil(max(values) - 1e-6)) if values else None


def validation_summary(folder: Path) -> dict:
    """The measured thresholds of every run in `folder` (tp > 1: the lowest over the ranks), for `cigen mem`."""
    out = []
    for path in sorted(folder.glob("*-tp*.json")):
        data = json.loads(path.read_text())
        if "-rank" in path.stem:
            continue
        ranks = data["ranks"] if "ranks" in data else [data]
        for index, card in enumerate(ranks[0]["cards"]):
            if "cases" not in card:  # the weights alone exceed P: the sweep tried nothing, no case fits
                cases = [
                    {"code": code, "action": action, "threshold_measured": None} for code in CODES for action in ACTIONS
                ]
            else:
                cases = []
                for row, case in enumerate(card["cases"]):
                    values = [r["cards"][index]["cases"][row]["threshold_measured"] for r in ranks]
                    cases.append(
                        {
                            "code": case["code"],
                            "action": case["action"],
                            "threshold_measured": None if None in values else min(values),
                        }
                    )
            out.append(
                {
                    "model": data["model"],
                    "tp": ranks[0]["tp"],
                    "capped": card["capped"],
                    "card_mib": card["card_mib"],
                    "device": ranks[0]["device"],
                    "cases": cases,
                }
            )
    return {
        "source": "benchmarks/results/gpu_sweep/validate (benchmarks/fit_memory_terms.py --validation-out)",
        "runs": out,
    }


def predicted(b: Bracket, constants: dict) -> float:
    """The advisor's largest fraction for this case with these constants (the card as the sweep gave it)."""
    term = constants["ALLOCATION_SLACK_MIB"] + (
        constants["CHUNKED_COMPARE_FRAGMENTATION"] * CHUNK_FP32_MIB if b.fragmented else 0.0
    )
    return advise(load_model(b.model), b.advisor_card, b.tp).largest_fraction(b.peak_mib + term)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=FIT_DATA)
    parser.add_argument("--out", type=Path, default=RESULTS / "memory_fit.json")
    parser.add_argument("--check", action="store_true", help="exit 1 when the advisor's constants differ from the fit")
    parser.add_argument(
        "--validation-out", type=Path, help=f"also write the measured thresholds for `cigen mem` (to {PACKAGED.name})"
    )
    args = parser.parse_args(argv)
    data = runs(args.data)
    all_brackets = brackets(data)
    constants = {**fit(all_brackets), "NCCL_MIB": nccl_mib(data)}
    in_advisor = {name: getattr(advisor, name) for name in constants}
    print(f"fitted on {len(all_brackets)} measured thresholds from {args.data}: {constants}")
    print(f"in generator/memory/advisor.py: {in_advisor}")
    worst_model_gap = max(
        abs(b.free_at_threshold_measured_mib - b.free_at_threshold_modelled_mib) for b in all_brackets
    )
    print(
        "allocator rules: free memory before the op at each threshold, "
        f"measured vs modelled: largest gap {worst_model_gap:.1f} MiB"
    )
    rows, leave_one_out = [], []
    for b in all_brackets:
        p = predicted(b, constants)
        rows.append(
            {
                "model": b.model,
                "tp": b.tp,
                "card": b.card,
                "case": b.case,
                "fragmented": b.fragmented,
                "peak_mib": b.peak_mib,
                "need_minus_peak_above_mib": round(b.low_mib, 1),
                "need_minus_peak_at_most_mib": round(b.high_mib, 1),
                "threshold_measured": b.threshold,
                "threshold_predicted": p,
                "measured_minus_predicted": round(b.threshold - p, 5),
            }
        )
    for name in sorted({b.model for b in all_brackets}):
        others = fit([b for b in all_brackets if b.model != name])
        for b in (b for b in all_brackets if b.model == name):
            p = predicted(b, others)
            leave_one_out.append(
                {
                    "left_out": name,
                    "constants": others,
                    "tp": b.tp,
                    "card": b.card,
                    "case": b.case,
                    "threshold_measured": b.threshold,
                    "threshold_predicted": p,
                    "measured_minus_predicted": round(b.threshold - p, 5),
                }
            )
    print(
        "| model | tp | card | case | need - peak bracket (MiB) | "
        "threshold measured | predicted | measured - predicted |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['tp']} | {r['card']} | {r['case']} | "
            f"({r['need_minus_peak_above_mib']}, {r['need_minus_peak_at_most_mib']}] | "
            f"{r['threshold_measured']:.4f} | {r['threshold_predicted']:.4f} | {r['measured_minus_predicted']:+.4f} |"
        )
    loo = [r["measured_minus_predicted"] for r in leave_one_out]
    print(f"leave one model out: measured - predicted from {min(loo):+.4f} to {max(loo):+.4f}")
    args.out.write_text(
        json.dumps(
            {
                "source": str(args.data.relative_to(RESULTS.parent.parent))
                if args.data.is_relative_to(RESULTS.parent.parent)
                else str(args.data),
                "resolution": RESOLUTION,
                "chunk_fp32_mib": CHUNK_FP32_MIB,
                "constants": constants,
                "allocator_rules_largest_gap_mib": round(worst_model_gap, 1),
                "cases": rows,
                "leave_one_model_out": leave_one_out,
            },
            indent=2,
        )
        + "\n"
    )
    if args.validation_out:
        args.validation_out.write_text(json.dumps(validation_summary(VALIDATION_DATA), indent=1) + "\n")
    if args.check and constants != in_advisor:
        print("the advisor's constants differ from the fit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
