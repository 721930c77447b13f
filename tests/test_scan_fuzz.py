"""Property tests of the scanner: random and malformed sources never crash it, the fast
path always agrees with the whole-file `ast` path, and both agree with sglang."""

from __future__ import annotations

import ast
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.errors import Severity
from generator.scan import scan_bytes, scan_module, scan_text
from tests.support.oracle import ci_register

# Codes where we are deliberately stricter than sglang (it silently accepts these).
STRICTER = {"non-constant-arg", "bad-est-time", "bad-suite", "bad-stage", "bad-runner-config"}

BACKENDS = ["cuda", "cpu", "amd", "npu", "xpu", "musa", "mlx", "mps", "ppu", "tpu"]
CONSTANTS = st.one_of(
    st.integers(-5, 4000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="abc-_ 1'\"()#\\\n", max_size=8),
    st.booleans(),
    st.none(),
)
EXPRESSIONS = st.sampled_from(["X", "1 + 1", "-5", "f'{x}'", "[1]", "CONST.attr", "call()"])
NAMES = st.sampled_from(["est_time", "suite", "stage", "runner_config", "nightly", "disabled", "colour"])


@st.composite
def marker_call(draw) -> str:
    backend = draw(st.sampled_from(BACKENDS))
    args = [repr(draw(CONSTANTS)) for _ in range(draw(st.integers(0, 5)))]
    for _ in range(draw(st.integers(0, 4))):
        value = draw(st.one_of(CONSTANTS.map(repr), EXPRESSIONS))
        args.append(f"{draw(NAMES)}={value}")
    if draw(st.booleans()):
        args = [f"est_time={draw(st.integers(0, 900))}", f"suite={draw(st.sampled_from(['a', 'nightly-1-gpu']))!r}"]
        if draw(st.booleans()):
            args = [args[0], "stage='base-b'", "runner_config='1-gpu-large'"]
    if draw(st.integers(0, 9)) == 0:
        args.append(draw(st.sampled_from(["*xs", "**kw"])))
    separator = draw(st.sampled_from([", ", ",\n    ", ",  # (note\n    ", ", \\\n    "]))
    return f"register_{backend}_ci({separator.join(args)})"


FRAGMENTS = [
    "import os",
    "x = 1",
    'S = """\nregister_cuda_ci(est_time=1, suite="in-string")\n"""',
    "S = '''(\n[{'''",
    "T = 'register_cuda_ci(est_time=1, suite=\"x\")'",
    'U = "it\'s ( [ {"',
    "V = r'\\d+\\'' + b\"\\x00\"",
    'W = f"{x!r} {{literal}} ( {y:>{z}}"',
    "# register_cuda_ci(est_time=1, suite='in-comment') (",
    "items = [\nregister_cuda_ci(est_time=1, suite='in-list'),\n]",
    "call(\nregister_cuda_ci(est_time=1, suite='in-call')\n)",
    "total = 1 + \\\nregister_cuda_ci(est_time=1, suite='continued')",
    "x = 1; register_cuda_ci(est_time=2, suite='after-semicolon')",
    "register_cuda_ci(est_time=3, suite='then-semicolon'); y = 2",
    "register_cuda_ci = None",
    "register_cuda_ci(est_time=4, suite='called').then()",
    "register_cuda_ci(est_time=4, suite='a')(1)",
    "register_widget_ci(est_time=1, suite='unknown')",
    "\fregister_cuda_ci(est_time=5, suite='form-feed')",
    "class T:\n    register_cuda_ci(est_time=1, suite='in-class')\n    def f(self):\n        return '('",
    "def f():\n    register_cuda_ci(est_time=1, suite='in-def')",
    "if x:\n    register_cuda_ci(est_time=1, suite='in-if')\nelse:\n    pass",
    "if TYPE_CHECKING:\n    import y",
    "@decorator\ndef g():\n    pass",
    'if __name__ == "__main__":\n    unittest.main()',
    "if __name__ == '__main__': main()",
    'if __name__ == "__main__":\n    pass',
    'if "__main__" == __name__:\n    main()',
    'if (__name__ ==\n        "__main__"):\n    main()',
    'if __name__ != "__main__":\n    main()',
    'if __name__ == "__main__":\n    x = [i for i in range(3)]',
    'if __name__ == "__main__":\n    if True:\n        main()\nelse:\n    other()',
    'class M:\n    if __name__ == "__main__":\n        main()',
    "lambda: (",
    ")",
    '"""unterminated',
    "x = 'unterminated",
    "    indented = 1",
]


@st.composite
def source(draw) -> str:
    parts = draw(st.lists(st.one_of(marker_call(), st.sampled_from(FRAGMENTS)), max_size=10))
    text = "\n".join(parts) + draw(st.sampled_from(["\n", "", "\n\n"]))
    if draw(st.integers(0, 9)) == 0:
        text = text.replace("\n", "\r\n")
    return text


def quiet_parse(text: str) -> ast.Module:
    """ast.parse without the compiler's warnings about the generated source (invalid escapes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text)


def parses(text: str) -> bool:
    try:
        quiet_parse(text)
        return True
    except (SyntaxError, ValueError):
        return False


def sglang_view(text: str):
    """(registrations, has_main) per sglang, or the ValueError it raises."""
    module = ci_register()
    visitor = module.RegistryVisitor(filename="t.py")
    try:
        visitor.visit(quiet_parse(text))
    except ValueError as error:
        return error
    rows = [
        (r.backend.name.lower(), r.est_time, r.effective_suite, r.stage, r.runner_config, r.nightly, r.disabled)
        for r in visitor.registries
    ]
    return rows, visitor.has_main_entry


FUZZ = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(source())
def test_fast_path_equals_whole_file_parse(text):
    fast = scan_text(text)
    if parses(text):
        assert fast == scan_module(text)


@FUZZ
@given(source())
def test_agrees_with_sglang(text):
    if not parses(text):
        return
    ours = scan_text(text)
    errors = [f for f in ours.findings if f.severity is Severity.ERROR]
    theirs = sglang_view(text)
    if isinstance(theirs, ValueError):
        assert errors, f"sglang rejects ({theirs}) but we found no error"
        return
    if errors:
        assert {f.code for f in errors} <= STRICTER, errors
        return
    rows = [(m.backend, m.est_seconds, m.suite, m.stage, m.runner_config, m.nightly, m.disabled) for m in ours.markers]
    known = [row for row in theirs[0] if row[0] in {"cpu", "cuda", "amd", "npu", "xpu", "musa", "mlx", "mps", "ppu"}]
    assert rows == known
    assert ours.has_main == theirs[1]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_is_scanned_without_crashing(text):
    result = scan_text(text)
    assert isinstance(result.has_main, bool)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_any_bytes_are_scanned_without_crashing(data):
    result = scan_bytes(data)
    assert all(f.line >= 1 for f in result.findings)


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_each_fragment_alone_agrees(fragment):
    if parses(fragment):
        assert scan_text(fragment) == scan_module(fragment)
