"""The table of cigen.yml keys (generator/config_fields.py) is the one place defaults are written:
it covers exactly the schema's keys, its defaults pass the schema, the model's dataclasses and the
config builders use its values, and keys that set a shard-runner option agree with the runner."""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from generator import config_fields
from generator.config import parse_config
from generator.config_document import schema
from generator.config_fields import EMPTY, REQUIRED, SECTIONS, SUITE, Derived, Section
from generator.model import (
    Build,
    CpuTests,
    GpuPreflight,
    Hooks,
    ModelTest,
    PlausibilityBounds,
    Pool,
    PullRequestGate,
    Redispatch,
    RunnerHealth,
    Suite,
    Throttle,
    TimingsLoop,
    Triggers,
    WorkflowSettings,
)
from generator.shipped import run_shard


def _raw_schema() -> dict:
    return json.loads(resources.files("generator").joinpath("data/cigen.schema.json").read_text())


def _object_schema(root: dict, section: Section) -> dict:
    node = root
    for step in section.schema_path:
        node = node[int(step)] if isinstance(node, list) else node[step]
    return node


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.name)
def test_each_section_lists_the_schemas_keys_in_its_order(section: Section) -> None:
    properties = _object_schema(_raw_schema(), section)["properties"]
    assert [item.key for item in section.fields] == list(properties)


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.name)
def test_required_keys_are_the_schemas(section: Section) -> None:
    object_schema = _object_schema(_raw_schema(), section)
    # a suite's required keys may come from the `defaults:` section, so suite_fields requires none
    expected = () if section is SUITE else tuple(object_schema.get("required", ()))
    table = () if section is SUITE else section.required
    assert sorted(table) == sorted(expected)
    if section is SUITE:
        assert section.required == ("trigger", "step_timeout_minutes", "shard_budget_minutes")


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.name)
def test_every_default_passes_the_schema(section: Section) -> None:
    root = schema()
    properties = _object_schema(root, section)["properties"]
    for item in section.fields:
        if not item.has_value:
            continue
        validator = jsonschema.Draft202012Validator({**properties[item.key], "$defs": root["$defs"]})
        value = json.loads(json.dumps(item.default, default=dict))
        errors = [error.validator for error in validator.iter_errors(value)]
        if item.default == ():  # none, said by leaving the key out where the schema refuses an empty list
            errors = [validator for validator in errors if validator != "minItems"]
        assert errors == [], f"{section.name}.{item.key} = {item.default!r}"


def test_help_is_written_once_in_the_table_and_given_to_the_schema() -> None:
    raw, loaded = _raw_schema(), schema()
    for section in SECTIONS:
        for item in section.fields:
            assert "description" not in _object_schema(raw, section)["properties"][item.key], item.key
            annotated = _object_schema(loaded, section)["properties"][item.key]
            assert annotated["description"].startswith(item.help)
    jsonschema.Draft202012Validator.check_schema(loaded)  # still a valid schema with the annotations
    retries = loaded["$defs"]["suite_fields"]["properties"]["retries"]
    assert retries["default"] == 1
    assert loaded["properties"]["workflows"]["properties"]["branches"]["default"] == ["main"]
    assert "default" not in loaded["$defs"]["pool"]["properties"]["gpu"]  # None: no value to state
    preflight = loaded["$defs"]["pool"]["properties"]["preflight"]["properties"]["max_used_mib"]
    assert preflight["description"] == (
        "A GPU is busy at this much used memory (sglang's idle gate). "
        "Left out: the shard runner's --max-used-mib default (run_shard.py run --help)."
    )


# dataclass -> (section, {attribute: key} where the names differ)
MODELS = [
    (GpuPreflight, config_fields.PREFLIGHT, {}),
    (Hooks, config_fields.HOOKS, {}),
    (Pool, config_fields.POOL, {"gpu_model": "gpu"}),
    (Suite, SUITE, {}),
    (ModelTest, config_fields.MODEL_TEST, {}),
    (Build, config_fields.BUILD, {}),
    (CpuTests, config_fields.CPU_TESTS, {}),
    (PullRequestGate, config_fields.PULL_REQUESTS, {}),
    (Triggers, config_fields.TRIGGERS, {}),
    (Throttle, config_fields.THROTTLE, {}),
    (TimingsLoop, config_fields.TIMINGS, {}),
    (WorkflowSettings, config_fields.WORKFLOWS, {}),
    (RunnerHealth, config_fields.HEALTH, {}),
    (Redispatch, config_fields.REDISPATCH, {}),
    (PlausibilityBounds, config_fields.TIMINGS, {}),
]


@pytest.mark.parametrize(("model", "section", "renamed"), MODELS, ids=lambda value: getattr(value, "__name__", ""))
def test_model_defaults_are_the_tables(model: type, section: Section, renamed: dict[str, str]) -> None:
    keys = {item.key for item in section.fields}
    checked = 0
    for attribute in fields(model):
        key = renamed.get(attribute.name, attribute.name)
        if key not in keys:
            continue
        default = section[key].default
        if attribute.default is not MISSING:
            assert attribute.default == default, f"{model.__name__}.{attribute.name}"
            checked += 1
        elif attribute.default_factory is not MISSING and default is EMPTY:
            made = attribute.default_factory()
            assert made == {} or made == model.__dataclass_fields__[attribute.name].default_factory()
        else:  # no model default: the key is required, derived, or filled in by config.py from the table
            assert default is REQUIRED or isinstance(default, Derived) or section is SUITE, attribute.name
    assert checked or model is Suite


def test_an_absent_key_takes_the_tables_default() -> None:
    config = parse_config(
        "version: 1\n"
        "pools: {p: {labels: [gpu], gpus: 1, setup_minutes: 1}}\n"
        "suites: {s: {trigger: nightly, pools: [p], step_timeout_minutes: 10, shard_budget_minutes: 5}}\n"
        "model_tests: {test/a.py: {model: Qwen3-0.6B}}\n"
        "builds: {b: {pool: p, steps: [make], artifact_path: dist/*, download_to: dist/}}\n"
        "workflows: {cpu_tests: {commands: [make]}, throttle: {divisor: 2},"
        " timings: {file: t.json, cron: '0 1 * * *'}}\n",
        "cigen.yml",
    )
    suite = config.suites["s"]
    for key in ("job_timeout_minutes", "max_parallel", "per_file_timeout_seconds", "retries", "retry_wait_seconds"):
        assert getattr(suite, key) == SUITE.default(key)
    assert config.include == config_fields.TESTS.default("include")
    assert config.nightly_cron == config_fields.SCHEDULE.default("nightly_cron")
    assert config.backends == config_fields.TOP.default("backends")
    assert suite.backend == config.backends[0]  # Derived: the first of backends
    assert config.model_tests["test/a.py"].hf_model == "Qwen3-0.6B"  # Derived: model
    assert config.builds["b"].timeout_minutes == config_fields.BUILD.default("timeout_minutes")
    workflows = config.workflows
    assert workflows.cpu_tests == CpuTests(commands=("make",))
    assert workflows.timings_loop == TimingsLoop(cron="0 1 * * *")
    assert workflows.throttle == Throttle(divisor=2)
    assert workflows == WorkflowSettings(
        cpu_tests=workflows.cpu_tests,
        timings_loop=workflows.timings_loop,
        throttle=workflows.throttle,
        timings="t.json",
    )
    assert config.pools["p"].preflight == GpuPreflight()


def _runner_defaults() -> dict[str, object]:
    options = run_shard.build_parser().parse_args(["run", "--suite", "s", "--shard", "0", "--files-json", "[]"])
    return vars(options)


def test_keys_that_set_a_runner_option_agree_with_the_runner() -> None:
    """A key left out (None) keeps the runner's own default, which only the runner states; a key
    with a value of its own (suite retries) states the runner's default, so the two agree."""
    runner = _runner_defaults()
    linked = [(section, item) for section in SECTIONS for item in section.fields if item.runner_option]
    assert {item.runner_option for _, item in linked} >= {"--preflight-timeout", "--max-used-mib", "--retries"}
    for section, item in linked:
        dest = item.runner_option.lstrip("-").replace("-", "_")
        assert dest in runner, f"{section.name}.{item.key}: the runner has no {item.runner_option}"
        if item.has_value:
            expected = list(item.default) if isinstance(item.default, tuple) else item.default
            assert expected == runner[dest], f"{section.name}.{item.key}"
        else:  # left out, the rendered job passes no option: the runner's default is the only one
            assert runner[dest] is not None, f"{section.name}.{item.key}: {item.runner_option} has no default"
    assert runner["test_arg"] == list(SUITE.default("test_args"))
    assert runner["retries"] == SUITE.default("retries")
    assert runner["retry_wait"] == SUITE.default("retry_wait_seconds")


def test_the_config_reference_is_generated_from_the_table(update_golden: bool) -> None:
    """docs/config.md lists every key with its default; rewritten by --update-golden."""
    path = Path(__file__).parent.parent / "docs" / "config.md"
    expected = config_fields.reference_markdown()
    if update_golden:
        path.write_text(expected)
    assert path.read_text() == expected
    assert "| `retries` | `1` |" in expected
    assert "| `max_used_mib` | the runner's `--max-used-mib`: `2048` |" in expected


def test_the_actions_inputs_default_to_the_model_test_keys() -> None:
    """action.yml cannot import the table: its defaults for the keys a model test passes agree with it."""
    import yaml

    inputs = yaml.safe_load((Path(__file__).parent.parent / "action.yml").read_text())["inputs"]
    model_test = config_fields.MODEL_TEST
    for key in ("tp", "extra_peak", "install", "server_args"):
        assert inputs[key.replace("_", "-")]["default"] == str(model_test.default(key)), key
