"""Exercise 3 — the backward pass of the reparameterisation trick (derivation step 7).

Why. A sampled weight has no derivative with respect to μ and σ. Writing the
sample as a function of outside noise,

    w = μ + σ·ε,   ε ~ N(0, 1),   σ = softplus(ρ),

(Kingma & Welling 2014; Blundell et al. 2015, sec. 3.1) makes w an ordinary
differentiable function of μ and ρ. Back-propagation delivers dF/dw, the
gradient of the loss with respect to the sampled weight; your job is to carry
it the rest of the way to the parameters the optimiser updates.

Your task. Given dF/dw (grad_w), the noise eps that made w, and rho, return
(dF/dμ, dF/dσ, dF/dρ), three arrays of grad_w's shape.

Starting point. The chain rule, one weight at a time:
    dF/dμ = dF/dw · dw/dμ
    dF/dσ = dF/dw · dw/dσ
    dF/dρ = dF/dσ · dσ/dρ          (dσ/dρ: exercise 1)
Work out dw/dμ and dw/dσ from w = μ + σ·ε. You may copy your exercise-1 code
for dσ/dρ (keep it stable).

Check:  python check.py 3
"""


def reparam_backward(grad_w, eps, rho):
    """(grad_mu, grad_sigma, grad_rho) for w = mu + softplus(rho) * eps, given grad_w = dF/dw."""
    raise NotImplementedError("exercise 3: write reparam_backward")
