"""sglang-ci-stats' `model.json` -> imported per-file estimates.

Its `est` table holds sglang's p90 per (suite, file); the per-suite `fit` is a regression of
job wall-clock on test time, not a measured setup, so it is not imported.
"""

from __future__ import annotations

from pathlib import Path

from generator.errors import ProblemReport, plural
from generator.jsonpos import read_json, schema_problems
from generator.timings.samples import Imported, Measurements

MODEL_SCHEMA = {
    "type": "object",
    "required": ["est"],
    "properties": {
        "est": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
        },
    },
}


def read_partition_model(path: Path) -> Measurements:
    data, text = read_json(path, "model-json")
    problems = schema_problems(data, text, MODEL_SCHEMA, str(path), "model-schema")
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {path}; nothing done.")
    imported = tuple(
        Imported(suite, file, float(seconds))
        for suite, files in sorted(data["est"].items())
        for file, seconds in sorted(files.items())
    )
    return Measurements(imported=imported)
