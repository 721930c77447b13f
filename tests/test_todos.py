"""TODO marks: placed above their keys, indented as the key, listed back with their lines."""

from __future__ import annotations

import pytest

from generator.todos import Mark, Todo, find_todos, mark_todos

TEXT = """\
# header
workflows:
  env:
    TOKEN_REPO: &repo {var: REPO}
    AGAIN: *repo
  pull_requests:
    label: run-ci  # TODO: already marked inline
suites:
  a:
    secrets: {HF_TOKEN: HF_STORE}
"""


def test_marks_go_above_their_keys_with_the_settings_the_jobs_read():
    marked = mark_todos(TEXT, (Mark((), "top"), Mark(("workflows", "pull_requests", "label"), "who labels")))
    assert marked == (
        "# TODO: top\n"
        "# header\n"
        "workflows:\n"
        "  env:\n"
        "    # TODO: set the repository variable REPO (Settings > Secrets and variables > Actions > Variables; "
        "unset, TOKEN_REPO is empty)\n"
        "    TOKEN_REPO: &repo {var: REPO}\n"
        "    AGAIN: *repo\n"
        "  pull_requests:\n"
        "    # TODO: who labels\n"
        "    label: run-ci  # TODO: already marked inline\n"
        "suites:\n"
        "  a:\n"
        "    # TODO: create the secret HF_STORE (Settings > Secrets and variables > Actions > Secrets); "
        "the jobs read it as HF_TOKEN\n"
        "    secrets: {HF_TOKEN: HF_STORE}\n"
    )
    assert [todo.line for todo in find_todos(marked)] == [1, 5, 9, 10, 13]
    assert find_todos(marked)[3] == Todo(10, "already marked inline")


def test_a_mark_for_a_missing_key_is_a_bug():
    with pytest.raises(KeyError, match="workflows.throttle: no key 'throttle'"):
        mark_todos(TEXT, (Mark(("workflows", "throttle"), "never placed"),))
