"""tests/corpus is a copy of the team's ../shared/corpus: the two must not drift apart."""

from __future__ import annotations

import hashlib

from tests.support.synth import SHARED_CORPUS, VENDORED_CORPUS, corpus_dir

FILES = [
    "README.md",
    "sglang-registrations.json",
    "sglang-suites.json",
    "sglang-ci-env.json",
    "sglang-ci-stats/SUMMARY.txt",
    "sglang-ci-stats/model.json",
]


def digests(root) -> dict[str, str]:
    names = FILES + sorted(p.relative_to(root).as_posix() for p in (root / "sglang-ci-stats" / "runs").glob("*.json"))
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in names}


def test_vendored_corpus_is_complete():
    vendored = digests(VENDORED_CORPUS)
    assert len(vendored) == len(FILES) + 8  # the 8 scheduled runs of sglang-ci-stats


def test_vendored_corpus_matches_the_shared_one_where_both_exist():
    if not SHARED_CORPUS.is_dir():  # a clone on its own: nothing to compare, tests use tests/corpus
        assert corpus_dir() == VENDORED_CORPUS
        return
    assert digests(VENDORED_CORPUS) == digests(SHARED_CORPUS)
