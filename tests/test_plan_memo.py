"""Remembered suite splits (generator/planning/memo.py): a warm plan is the plan a fresh search
gives, a changed input is searched again, and a bad or stale store is ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator import plan as plan_module
from generator.config import load_config
from generator.plan import plan
from generator.planning.memo import SplitMemo, load_split_memo, save_split_memo
from generator.tree import scan_tree


@pytest.fixture(scope="module")
def corpus_inputs(synth_tree):
    config = load_config(None, synth_tree.root)
    return config, scan_tree(synth_tree.root, config.include, config.exclude).registrations


def no_search(*args, **kwargs):
    raise AssertionError("searched for a split the memo holds")


def test_a_remembered_plan_is_the_plan_a_fresh_search_gives(corpus_inputs, tmp_path, monkeypatch):
    config, registrations = corpus_inputs
    fresh = plan(config, registrations)
    memo = SplitMemo()
    assert plan(config, registrations, memo=memo) == fresh
    save_split_memo(memo, tmp_path, Path("."))

    monkeypatch.setattr(plan_module, "split_suite", no_search)
    assert plan(config, registrations, memo=load_split_memo(tmp_path, Path("."))) == fresh


def test_previous_shards_are_part_of_the_key(corpus_inputs, tmp_path):
    config, registrations = corpus_inputs
    fresh = plan(config, registrations)
    previous = {sp.suite.name: [[path for shard in sp.shards for path in shard.files]] for sp in fresh.suites}
    memo = SplitMemo()
    plan(config, registrations, memo=memo)
    kept = plan(config, registrations, previous=previous, memo=memo)
    assert kept == plan(config, registrations, previous=previous)
    assert kept != fresh  # so a key without the previous shards would have failed


def test_a_changed_estimate_is_searched_again(corpus_inputs, tmp_path):
    config, registrations = corpus_inputs
    memo = SplitMemo()
    plan(config, registrations, memo=memo)
    save_split_memo(memo, tmp_path, Path("."))
    target = next(r for r in registrations if r.suite == "base-b-test-1-gpu-small")
    seconds_of = lambda reg: reg.est_seconds * (20 if reg == target else 1)  # noqa: E731
    warm = plan(config, registrations, seconds_of, memo=load_split_memo(tmp_path, Path(".")))
    assert warm == plan(config, registrations, seconds_of)


def test_only_the_last_runs_splits_are_kept(corpus_inputs, tmp_path):
    config, registrations = corpus_inputs
    first = SplitMemo()
    plan(config, registrations, memo=first)
    save_split_memo(first, tmp_path, Path("."))
    halved = SplitMemo(load_split_memo(tmp_path, Path(".")).used)
    plan(config, registrations, lambda reg: reg.est_seconds / 2, memo=halved)
    save_split_memo(halved, tmp_path, Path("."))
    (store,) = tmp_path.glob("splits-*.json")
    assert set(json.loads(store.read_text())["splits"]) == set(halved.used)
    assert not set(halved.used) & set(first.used)


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"fingerprint": "an older cigen", "splits": {}}),
    ],
)
def test_an_unreadable_or_stale_store_holds_nothing(tmp_path, stored):
    save_split_memo(_one_split(), tmp_path, Path("."))
    (store,) = tmp_path.glob("splits-*.json")
    store.write_text(stored)
    assert load_split_memo(tmp_path, Path(".")).used == {}
    assert load_split_memo(tmp_path, Path(".")).get("k", ["a.py"]) is None


@pytest.mark.parametrize(
    "entry",
    [
        [[["a.py"]], True],  # too short
        [[["a.py"]], "yes", 1.0],  # optimal not a bool
        [[["a.py", 3]], True, 1.0],  # a file not a path
        [[["a.py", "b.py"]], True, 1.0],  # places a file the suite does not have
        [[[]], True, 1.0],  # misses one it has
    ],
)
def test_a_stored_split_that_does_not_fit_the_suite_is_ignored(tmp_path, entry):
    memo = SplitMemo({"k": entry})
    assert memo.get("k", ["a.py"]) is None
    assert SplitMemo({"k": [[["a.py"]], True, 1.0]}).get("k", ["a.py"]) is not None


def _one_split() -> SplitMemo:
    memo = SplitMemo()
    memo.put("k", SplitMemo({"k": [[["a.py"]], True, 1.0]}).get("k", ["a.py"]))
    return memo
