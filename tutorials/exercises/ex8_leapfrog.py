"""Exercise 8 — one leapfrog step of Hamiltonian Monte Carlo (Neal 2011, "MCMC using Hamiltonian dynamics").

Why. To judge how good a variational q is, we need draws from the true
posterior p(w|𝒟). Hamiltonian Monte Carlo gets them by treating -log p(w|𝒟)
as a landscape and the weights w as a particle with a momentum p, whose
energy

    H(w, p) = -log p(w) + ½ pᵀp          (mass matrix M = I here)

stays constant along Hamilton's equations  dw/dt = p,  dp/dt = ∇ log p(w).
The computer follows them in small steps of size ε. HMC needs a step that
is exactly time-reversible (flip the momentum and the same steps lead back),
so that its accept/reject step can correct the small energy error. The
leapfrog step is:

    p½ = p  + (ε/2) ∇ log p(w)         half step in momentum
    w' = w  + ε p½                     full step in position
    p' = p½ + (ε/2) ∇ log p(w')        half step in momentum, with the gradient at the NEW w'

minivi's own version, for many steps and a diagonal mass matrix, is
`leapfrog` in minivi/mcmc.py.

Your task.
  leapfrog_step(w, p, step_size, grad_log_prob): w and p are arrays (D,);
     grad_log_prob(w) returns ∇ log p(w), an array (D,). Return (w_new, p_new),
     new arrays (leave w and p unchanged).

The checker compares one step with the formula, runs 25 steps forward and 25
back with the momentum flipped (you must land on the start to 1e-10), and
measures how the energy error shrinks when ε is halved (as ε²).

Check:  python check.py 8
"""


def leapfrog_step(w, p, step_size, grad_log_prob):
    """One leapfrog step of size step_size with M = I; returns (w_new, p_new)."""
    raise NotImplementedError("exercise 8: write leapfrog_step")
