"""Shared test settings.

Hypothesis: no per-example deadline (a shared 2-core CI machine has uneven
timing, and a slow example is not a wrong one). Example counts are set per
test with @settings(max_examples=...) to keep the suite fast.
"""
from hypothesis import settings

settings.register_profile("minivi", deadline=None)
settings.load_profile("minivi")
