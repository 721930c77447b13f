"""docs/act.md is where the act-versus-GitHub differences live: every citation of one names a
difference the page has."""

from __future__ import annotations

import re

from tests.support.rendering import REPO_ROOT

ACT_DOC = REPO_ROOT / "docs" / "act.md"
CITATION = re.compile(r"docs/act\.md, differences? ([0-9]+(?: and [0-9]+)?)")


def test_every_act_difference_cited_is_on_the_page():
    headings = {int(n) for n in re.findall(r"^### ([0-9]+)\. ", ACT_DOC.read_text(), flags=re.M)}
    assert headings == set(range(1, len(headings) + 1)) and len(headings) >= 10
    cited: dict[int, set[str]] = {}
    for path in sorted([*(REPO_ROOT / "generator").rglob("*.py"), *(REPO_ROOT / "tests").rglob("*.py")]):
        text = " ".join(path.read_text().split())  # a citation may wrap
        for numbers in CITATION.findall(text):
            for number in numbers.split(" and "):
                cited.setdefault(int(number), set()).add(path.relative_to(REPO_ROOT).as_posix())
    assert {"generator/render/contexts.py", "generator/render/jobs.py"} <= set().union(*cited.values())
    assert not {n: where for n, where in cited.items() if n not in headings}
