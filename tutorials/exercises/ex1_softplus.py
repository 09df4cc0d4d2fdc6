"""Exercise 1 — softplus and its derivative, computed stably (derivation step 4).

Why. Bayes by Backprop learns a standard deviation σ for every weight. σ must
stay positive whatever a gradient step does, so the optimiser updates an
unconstrained number ρ and we set

    σ = softplus(ρ) = log(1 + e^ρ)                  (Blundell et al. 2015, sec. 3.2)

Its derivative dσ/dρ is the last link of the chain rule in exercise 3.

Your task. Write both functions for NumPy arrays of any shape (elementwise),
returning float arrays of the same shape.

Starting points.
  * softplus(0) = log 2; softplus(ρ) ≈ ρ for large ρ; softplus(ρ) ≈ e^ρ for very negative ρ.
  * The formula as written breaks in float64: np.exp(1000) is inf. Use
    np.logaddexp(a, b) = log(e^a + e^b), or rewrite log(1 + e^ρ) so that you
    only ever exponentiate a number <= 0.
  * d/dρ log(1 + e^ρ): the chain rule, outer function log, inner function 1 + e^ρ.
    Simplify until you recognise a famous function, and again compute it without
    exponentiating a large positive number.

Check:  python check.py 1
"""


def softplus(rho):
    """sigma = log(1 + e^rho), elementwise, finite and accurate for every finite rho."""
    raise NotImplementedError("exercise 1: write softplus")


def softplus_grad(rho):
    """dsigma/drho = d/drho log(1 + e^rho), elementwise, finite for every finite rho."""
    raise NotImplementedError("exercise 1: write softplus_grad")
