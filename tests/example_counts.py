"""Hypothesis example counts: a few in the plain `pytest`, the full count in `pytest -m slow`.

    FEW = Examples(plain=10, slow=50)

    @FEW.given(data=st.data())
    def test_something(data):
        ...

makes two tests from one function: `test_something[10 examples]`, which the plain
`pytest` a student types runs, and `test_something[50 examples]`, marked slow, which
CI runs with `pytest -m slow`. The property is the same; only the number of random
examples Hypothesis draws differs, so nothing loses examples in CI and the plain run
stays fast. Use it instead of `@settings(max_examples=...)` above `@given(...)`.
Written as `@FEW` above `@given(...)`, it acts as `@settings(max_examples=slow)`:
one test, the full count, in the plain run too.
"""
from __future__ import annotations

import inspect

import pytest
from hypothesis import given, settings


class Examples:
    """Two example counts for Hypothesis tests: `plain` (the plain run) and `slow` (`pytest -m slow`)."""

    def __init__(self, plain: int, slow: int, **options):
        if not 1 <= plain < slow:
            raise ValueError(f"need 1 <= plain < slow example counts, got plain={plain}, slow={slow}")
        self.plain, self.slow, self.options = plain, slow, options

    def given(self, *strategies, **named_strategies):
        """Like hypothesis.given, but the test runs twice: `plain` examples, then `slow` ones under the marker."""
        def decorate(test):
            runs = {count: settings(max_examples=count, **self.options)(given(*strategies, **named_strategies)(test))
                    for count in (self.plain, self.slow)}

            def run(*args, examples, **kwargs):
                runs[examples](*args, **kwargs)

            run.__name__, run.__qualname__, run.__doc__ = test.__name__, test.__qualname__, test.__doc__
            run.__module__ = test.__module__
            # pytest reads the arguments to fill (fixtures, parametrize) from the signature: those
            # Hypothesis leaves open, plus `examples`.
            left_open = list(inspect.signature(runs[self.plain]).parameters.values())
            run.__signature__ = inspect.Signature(left_open + [inspect.Parameter("examples", inspect.Parameter.KEYWORD_ONLY)])
            counts = [pytest.param(self.plain, id=f"{self.plain} examples"),
                      pytest.param(self.slow, id=f"{self.slow} examples", marks=pytest.mark.slow)]
            return pytest.mark.parametrize("examples", counts)(run)
        return decorate

    def __call__(self, given_test):
        """`@FEW` above `@given(...)` (the older way): the full `slow` count, in every run."""
        return settings(max_examples=self.slow, **self.options)(given_test)
