"""The exercise checker's internals; `check.py` in the folder above is the command to run.

core.py             the registry, running a check, comparisons that explain themselves
hints.py            every hint text, keyed by the mistake it explains
gaussian_checks.py  exercises 1-3 (softplus, KL, reparameterisation backward)
engine_checks.py    exercise 4 (an engine op's VJPs, broadcasting)
network_checks.py   exercises 5-7 (KL weights, uncertainty, local reparameterisation)
hmc_checks.py       exercise 8 (one leapfrog step: reversibility, energy error ∝ ε²)
fullcov_checks.py   exercise 9 (the full-covariance KL and its gradient in L)
ais_checks.py       exercise 10 (AIS log weights over a schedule, the log evidence they estimate)
conv_checks.py      exercise 11 (a convolution's backward: col2im for dF/dx, G_colᵀ col(x) for dF/dW)
"""
from . import engine_checks, gaussian_checks, network_checks  # noqa: F401  (they register the exercises)
from . import hmc_checks  # noqa: F401
from . import fullcov_checks  # noqa: F401  (exercise 9)
from . import ais_checks  # noqa: F401  (exercise 10)
from . import conv_checks  # noqa: F401  (exercise 11)
from .core import EXERCISES, CheckResult, ExerciseResult, check_exercise, failed_to_load, find_exercise
from .hints import GENERIC_HINTS, HINTS

__all__ = ["EXERCISES", "GENERIC_HINTS", "HINTS", "CheckResult", "ExerciseResult", "check_exercise", "failed_to_load",
           "find_exercise"]
