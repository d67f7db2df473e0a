"""Rules the test suite keeps about itself, learnt from failures that only showed on a loaded CI machine."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_browser_predicates_are_functions():
    """Playwright evaluates a string predicate with `eval` on every poll after the first. The portal's CSP forbids
    `eval`, so an expression that is not already true at the first check fails with EvalError, which happens only
    when the machine is slow. An arrow function is evaluated once, during the first (DevTools) call: it polls safely."""
    call = re.compile(r"wait_for_function\(\s*(['\"])(?!\(\) =>)")
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in TESTS.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if call.search(line)
    ]
    assert offenders == [], "write the predicate as '() => …': " + ", ".join(offenders)
