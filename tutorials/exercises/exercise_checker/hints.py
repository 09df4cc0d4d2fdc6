"""Every hint the checker can give, in one place, keyed by the mistake it explains.

A check that fails runs diagnostic probes (see the *_checks.py files) and
picks the hints whose mistake matches what the student's code computes. A
teacher can reword any text here; the keys are what the probes and the tests
refer to. Each hint says what the mistake is, why it is wrong, and where to
look, without giving the finished line of code away.
"""

HINTS = {
    # -------------------------------------------------------------- general
    "missing-function": (
        "The checker looks for a function with exactly this name in your file. Did you rename it, "
        "or define it inside another function?"),
    "returned-none": (
        "Your function returned None: a `return` statement is missing (or it is inside an `if` that "
        "was not taken)."),
    "raised": (
        "Your code stopped with an error. The line above names it and the line of your file where it "
        "happened; the shapes or values in that line are the place to start."),
    "shape": (
        "The result has the wrong shape. Write down the shape of every input and of the result the "
        "docstring asks for, then follow the shapes through each line of your code."),

    # -------------------------------------------------------------- exercise 1: softplus
    "softplus-formula": (
        "softplus(ρ) = log(1 + e^ρ). Three values to test by hand: softplus(0) = log 2 ≈ 0.6931, "
        "softplus(ρ) → ρ for large ρ, and softplus(ρ) ≈ e^ρ (tiny but > 0) for very negative ρ."),
    "softplus-overflow": (
        "np.exp(ρ) overflows to inf for ρ > 709, so log(1 + e^ρ) computed as written breaks exactly "
        "where σ ≈ ρ. Use np.logaddexp(0, rho) = log(e^0 + e^ρ), which factors out the larger "
        "exponent before exponentiating, or rewrite softplus(ρ) = max(ρ, 0) + log(1 + e^(−|ρ|))."),
    "softplus-underflow": (
        "For very negative ρ, 1 + e^ρ rounds to exactly 1.0 (e^−50 ≈ 2e-22 is far below float64's "
        "precision around 1), so log(1 + e^ρ) returns 0 and σ = 0, a zero standard deviation. "
        "np.log1p(x) computes log(1 + x) accurately for small x; np.logaddexp(0, rho) does too."),
    "softplus-grad-formula": (
        "dσ/dρ = d/dρ log(1 + e^ρ) = e^ρ / (1 + e^ρ) = 1 / (1 + e^(−ρ)), the logistic sigmoid: "
        "it is 1/2 at ρ = 0, near 0 for very negative ρ and near 1 for large ρ."),
    "softplus-grad-is-function": (
        "You returned softplus(ρ) itself, not its derivative. Differentiate log(1 + e^ρ) with the "
        "chain rule: the outer log gives 1/(1 + e^ρ), the inner function gives e^ρ."),
    "softplus-grad-exp": (
        "You returned e^ρ, the derivative of the inner function only. The chain rule also needs the "
        "derivative of the outer log, 1/(1 + e^ρ): dσ/dρ = e^ρ / (1 + e^ρ)."),
    "softplus-grad-sign": (
        "Your derivative is sigmoid(−ρ) = 1 − sigmoid(ρ): a sign slip. softplus increases with ρ, "
        "so its slope must increase too: dσ/dρ = 1 / (1 + e^(−ρ))."),
    "softplus-grad-sigmoid-derivative": (
        "You returned sigmoid(ρ)(1 − sigmoid(ρ)), which is the derivative of the sigmoid, i.e. "
        "the SECOND derivative of softplus. One differentiation is enough."),
    "softplus-grad-overflow": (
        "Your derivative gives inf or NaN for large |ρ|: e^ρ/(1 + e^ρ) is inf/inf at ρ = 1000. "
        "Write sigmoid(ρ) in a form whose exponent is never positive, e.g. "
        "exp(−logaddexp(0, −ρ)) = 1/(1 + e^(−ρ))."),

    # -------------------------------------------------------------- exercise 2: KL
    "kl-formula": (
        "Your result matches none of the usual slips the checker knows, so compare it term by term "
        "with the closed form: per weight, KL[N(μ, σ²) ‖ N(0, s²)] = log(s/σ) + (σ² + μ²)/(2s²) − 1/2, "
        "summed over the weights. Check it by hand at μ = 0, σ = s, where it must be exactly 0."),
    "kl-missing-log-sigma": (
        "Your KL differs from the closed form by exactly log σ (plus a constant): the −log σ term "
        "is missing (in general, log(s/σ) = log s − log σ). It is (minus) the entropy of q: "
        "without it nothing stops σ from shrinking to 0, and q collapses onto a point."),
    "kl-grad-missing-log-sigma": (
        "Your dKL/dσ lacks −1/σ, the derivative of the −log σ term in the KL. Differentiate each "
        "term of log s − log σ + (σ² + μ²)/(2s²) − 1/2 separately."),
    "kl-log-sign": (
        "Your result differs by 2·log σ: the log term has the wrong sign. The KL has "
        "log(s/σ) = log s − log σ, which grows as σ shrinks (the derivative of −log σ is −1/σ)."),
    "kl-log-twice": (
        "Your log term is twice too big: log(s²/σ²) = 2·log(s/σ). The KL has the log of the ratio "
        "of standard deviations, log(s/σ), or half the log of the ratio of variances."),
    "kl-sigma-for-variance": (
        "σ used where σ² belongs: the KL's quadratic term is (σ² + μ²)/(2s²), with the variances "
        "σ² and s², not the standard deviations σ and s."),
    "kl-constant": (
        "Your KL is off by the same amount for every weight: a constant is wrong. The KL of q "
        "against itself is 0, so at μ = 0, σ = s every term must cancel, the −1/2 included."),
    "kl-prior-variance-missing": (
        "Your quadratic term is (σ² + μ²)/2, the N(0, 1) prior's: the division by the prior's "
        "variance s² is missing, so your KL is right only when prior_sigma = 1 and its error grows "
        "with σ² + μ². E_q[log p(w)] for p = N(0, s²) has −E_q[w²]/(2s²)."),
    "kl-missing-mu": (
        "Your KL does not depend on μ as it should: the μ²/(2s²) term (half of (σ² + μ²)/(2s²)) "
        "is missing or wrong. Moving the mean away from the prior's mean must cost something."),
    "kl-prior-ignored": (
        "Your result is the one for prior_sigma = 1, whatever prior_sigma is passed: use the "
        "argument s in log(s/σ) and in the denominator 2s²."),
    "kl-not-summed": (
        "kl_normal must return one number, the KL summed over all the weights (the weights are "
        "independent, so their KLs add). Yours returns one value per weight."),
    "kl-mean-not-sum": (
        "You averaged the per-weight KLs; the KL of independent weights is their SUM (np.sum, not "
        "np.mean)."),
    "kl-grad-mu": (
        "dKL/dμ = μ/s²: only the μ²/(2s²) term depends on μ."),
    "kl-grad-sigma": (
        "dKL/dσ = −1/σ + σ/s²: one part from −log σ, one from σ²/(2s²)."),
    "kl-grad-follows-own-kl": (
        "Your gradient agrees with finite differences of YOUR kl_normal, so the differentiation is "
        "right and the KL itself is wrong: fix kl_normal first (see its hint above)."),

    # -------------------------------------------------------------- exercise 3: reparameterisation
    "reparam-formula": (
        "With w = μ + σ·ε and σ = softplus(ρ), the chain rule gives dF/dμ = dF/dw · dw/dμ, "
        "dF/dσ = dF/dw · dw/dσ and dF/dρ = dF/dσ · dσ/dρ. Work out each small derivative."),
    "reparam-sigma-without-eps": (
        "σ's gradient without ε: you returned dF/dw unchanged as dF/dσ. But w = μ + σ·ε, so "
        "dw/dσ = ε and dF/dσ = dF/dw · ε. (dF/dw alone is μ's gradient, since dw/dμ = 1.)"),
    "reparam-mu-times-eps": (
        "dF/dμ = dF/dw: w = μ + σ·ε, so dw/dμ = 1. The ε belongs to σ's gradient, not μ's."),
    "reparam-chain-in-sigma": (
        "Your dF/dσ already contains sigmoid(ρ), which belongs to dF/dρ only: dF/dσ = dF/dw · ε, "
        "and the softplus link is the next step of the chain."),
    "reparam-softplus-chain-forgotten": (
        "The chain through softplus is forgotten: dF/dρ = dF/dσ · dσ/dρ, and σ = softplus(ρ) gives "
        "dσ/dρ = sigmoid(ρ) (exercise 1). You returned dF/dσ itself."),
    "reparam-softplus-not-derivative": (
        "You multiplied by softplus(ρ) = σ, the function, instead of its derivative "
        "dσ/dρ = sigmoid(ρ) (exercise 1)."),
    "reparam-fix-sigma-first": (
        "Your dF/dρ is your own dF/dσ times sigmoid(ρ): the last link of the chain is right. It is "
        "wrong only because dF/dσ is; fix that first."),

    # -------------------------------------------------------------- exercise 4: engine op
    "op-not-unbroadcast": (
        "The gradient was not summed over the broadcast axes. When NumPy broadcasts an input, "
        "every copy of an entry gets its own share of the output's gradient, and the entry's "
        "gradient is the SUM of those shares. A VJP must return an array of its input's shape: "
        "pass the result through mv.unbroadcast(grad, input.shape)."),
    "op-mean-not-sum": (
        "You reduced the broadcast axes with a mean; the adjoint of broadcasting is a SUM (each "
        "copy contributes its full share). mv.unbroadcast does the sum for you."),
    "op-mul-wrong-factor": (
        "d(a·b)/da = b and d(a·b)/db = a: each input's gradient is g times the OTHER factor."),
    "op-forgot-upstream": (
        "A VJP maps the gradient arriving at the output, g = dF/d(out), to dF/d(input): your "
        "result does not use g. For out = a·b, dF/da = g · b."),
    "op-vjp": (
        "A VJP takes g = dF/d(out) (the output's shape) and returns dF/d(input) (the input's "
        "shape): dF/dx_j = Σ_i g_i · d out_i / dx_j. Work it out for one small example by hand."),
    "log-softmax-diagonal-only": (
        "You kept only d out_j/dx_j = 1 − softmax_j. But every output of the row depends on every "
        "input of the row (through log Σ e^x): d out_i/dx_j = δ_ij − softmax_j, so "
        "dF/dx_j = g_j − softmax_j · Σ_i g_i."),
    "log-softmax-missing-sum": (
        "The second term needs the sum of g over the axis: dF/dx_j = g_j − softmax_j · Σ_i g_i, "
        "because x_j reaches every output of its row through log Σ e^x."),
    "log-softmax-sum-all-axes": (
        "You summed g over the whole array. Each slice along `axis` is normalised on its own, so "
        "x_j reaches only the outputs of its own slice: the sum Σ_i g_i runs over that slice only, "
        "one sum per slice, and it must still line up with g when multiplied by softmax."),
    "log-softmax-wrong-axis": (
        "Your gradient treats the wrong axis as the class axis: use the `axis` argument both for "
        "the softmax and for the sum of g."),

    # -------------------------------------------------------------- exercise 5: ELBO weights
    "elbo-weights-formula": (
        "Blundell et al. (2015, sec. 3.4): π_i = 2^(M−i) / (2^M − 1) for i = 1, ..., M. For M = 4 "
        "that is 8/15, 4/15, 2/15, 1/15."),
    "elbo-weights-not-sum-to-one": (
        "KL weights that do not sum to 1: over one epoch the KL must be counted exactly once, "
        "Σ_i π_i = 1, so that the M minibatch losses add up to the negative ELBO. With another "
        "total you minimise a different objective (a tempered posterior, too wide or too narrow)."),
    "elbo-weights-index-from-zero": (
        "Your weights sum to 2: the formula's index runs i = 1, ..., M, and a Python index that "
        "starts at 0 doubles every weight. Use i = np.arange(1, M + 1), or shift the exponent."),
    "elbo-weights-denominator": (
        "The denominator is 2^M − 1, not 2^M: Σ_{i=1..M} 2^(M−i) = 2^M − 1 (a geometric sum)."),
    "elbo-weights-order": (
        "The weights must DEcrease: the first minibatch gets the largest weight 2^(M−1)/(2^M − 1), "
        "so the prior dominates early in the epoch and the data later."),
    "elbo-weights-uniform": (
        "You returned the uniform weights 1/M: they sum to 1 but are not Blundell's schedule, "
        "π_i = 2^(M−i) / (2^M − 1)."),
    "elbo-weights-overflow": (
        "For a long epoch 2^M overflows float64 (M > 1023) and 2^M/2^M becomes inf/inf = NaN. "
        "Divide numerator and denominator by 2^M first: π_i = 2^(−i) / (1 − 2^(−M))."),
    "elbo-loss-formula": (
        "Minibatch i's loss is F_i = π_i · KL + nll_i: the KL weighted by π_i, the minibatch's "
        "own data term (its negative log-likelihood) as it is."),
    "elbo-loss-weighted-data": (
        "Weight only the KL: F_i = π_i · KL + nll_i. Each data point belongs to exactly one "
        "minibatch, so its data term is already counted once per epoch."),
    "elbo-loss-kl-unweighted": (
        "The full KL is added to every minibatch, so over an epoch it is counted M times and the "
        "prior M times too strong. Multiply it by π_i."),
    "elbo-loss-sign": (
        "nll_i is already the NEGATIVE log-likelihood, which the loss adds: F_i = π_i·KL + nll_i."),
    "elbo-loss-own-weights": (
        "Your minibatch_losses combines KL and nll correctly with YOUR blundell_weights; it is "
        "wrong only because the weights are: fix blundell_weights first."),

    # -------------------------------------------------------------- exercise 6: uncertainty
    "unc-entropy-formula": (
        "Predictive entropy H[p̄] = −Σ_c p̄_c log p̄_c, with p̄ = (1/S) Σ_s p_s the mean of the "
        "sampled probabilities: average over the sample axis (0), sum over the class axis (−1)."),
    "unc-entropy-of-mean": (
        "You computed the mean of the entropies, (1/S) Σ_s H[p_s] (the expected entropy, the "
        "aleatoric part). The predictive entropy is the entropy of the mean, H[(1/S) Σ_s p_s]."),
    "unc-log-base": (
        "Use the natural logarithm (entropies in nats, as minivi reports them): your values are "
        "the right ones divided by log 2 or log 10."),
    "unc-zero-prob": (
        "0 · log 0 must count as 0 (the limit of p log p as p → 0), but np.log(0) = −inf and "
        "0 · (−inf) = NaN. Leave out the zero entries, e.g. with np.where(p > 0, ..., 0)."),
    "unc-wrong-axis": (
        "The probabilities have shape (S, N, C): samples, points, classes. Average over axis 0 and "
        "sum the entropy over the last axis; the result has shape (N,)."),
    "unc-mi-formula": (
        "Mutual information (epistemic uncertainty) = H[(1/S) Σ_s p_s] − (1/S) Σ_s H[p_s]: "
        "the entropy of the mean minus the mean of the entropies. It is >= 0 and is 0 exactly "
        "when all samples agree."),
    "unc-mi-sign": (
        "Your mutual information is the negative of the right one: it is the entropy of the mean "
        "MINUS the mean entropy. By Jensen's inequality it is never negative."),
    "unc-mi-is-entropy": (
        "You returned an entropy, not the difference of two: MI = H[mean of p_s] − mean of H[p_s]."),

    # -------------------------------------------------------------- exercise 7: local reparameterisation
    "lrt-mean": (
        "The mean of b_j = Σ_i x_i W_ij is Σ_i x_i μ_ij, i.e. x @ mu: expectation is linear."),
    "lrt-variance": (
        "The weights are independent, so the variances of the terms x_i W_ij add: "
        "Var(b_j) = Σ_i x_i² σ_ij², i.e. (x**2) @ (sigma**2)."),
    "lrt-sigma-for-variance": (
        "σ used where σ² belongs: Var(x_i W_ij) = x_i² σ_ij², the VARIANCE of the weight. "
        "The variance of the pre-activation is (x**2) @ (sigma**2)."),
    "lrt-x-not-squared": (
        "Var(x W) = x² Var(W) for a fixed number x: square the inputs too, (x**2) @ (sigma**2)."),
    "lrt-sum-of-stds": (
        "You summed standard deviations and squared the total, (x @ sigma)². For independent "
        "terms the VARIANCES add: Σ_i x_i² σ_ij²."),
    "lrt-returned-std": (
        "You returned the standard deviation; lrt_moments returns the variance (the sample then "
        "uses its square root)."),
    "lrt-sample-uses-variance": (
        "Scale ε by the standard deviation sqrt(var), not by the variance: b = mean + sqrt(var)·ε "
        "has variance var·Var(ε) = var."),
    "lrt-sample-shared-weights": (
        "You sampled one weight matrix for the whole batch (the plain reparameterisation). The "
        "local trick samples each pre-activation directly, b = mean + sqrt(var)·ε with ε of the "
        "OUTPUT's shape, so every input row gets its own independent noise."),
    "lrt-sample-own-moments": (
        "Your lrt_sample is right given YOUR lrt_moments; it is wrong only because the moments "
        "are: fix lrt_moments first."),
    "lrt-sample-eps": (
        "Draw the noise exactly as the docstring says, eps = rng.standard_normal(mean.shape), "
        "once and with no other draw before it, so the checker can reproduce your sample."),

    # -------------------------------------------------------------- exercise 8: one leapfrog step
    "leapfrog-formula": (
        "One leapfrog step is three updates, each using the newest values: p½ = p + (ε/2)∇log p(w), "
        "then w' = w + ε p½, then p' = p½ + (ε/2)∇log p(w'). The gradient of the second half step is "
        "taken at the NEW position w'."),
    "leapfrog-forgot-half-step": (
        "Your step matches a scheme with a whole momentum step where leapfrog has two half steps (or a "
        "half step left out): symplectic Euler. It is accurate only to first order (energy error ∝ ε, not "
        "ε²) and not symmetric, so running it backwards does not undo it, and HMC's accept/reject step "
        "relies on that reversibility. Split the momentum update: half before the position step, half after."),
    "leapfrog-force-sign": (
        "The force has the wrong sign. H = −log p(w) + ½pᵀp, so dp/dt = −∂H/∂w = +∇log p(w): the "
        "momentum is pushed UPHILL in log p, towards more probable weights. With the minus sign the "
        "particle rolls away from the mode and the energy is no longer conserved."),
    "leapfrog-position-half": (
        "The position takes a FULL step, w' = w + ε p½; only the momentum is split into two halves."),
    "leapfrog-old-values": (
        "Your updates all use the old w and p (w' = w + ε p, p' = p + ε∇log p(w)): Euler's method, "
        "which neither keeps the energy nor runs backwards. Each update must use the result of the one "
        "before it."),
    "leapfrog-in-place": (
        "Your function changed the arrays it was given (e.g. `p += ...` writes into the caller's array). "
        "HMC keeps the starting point to return to when it rejects a proposal; build new arrays "
        "(p_half = p + ...) instead."),
    "leapfrog-not-reversible": (
        "Going forward, flipping the momentum and going back must retrace the path exactly. That holds "
        "when the step is symmetric: half step in p, full step in w, half step in p, with the gradient "
        "evaluated at the current position each time. Check that every update uses the newest values."),
    "leapfrog-energy": (
        "Leapfrog's energy error over a fixed trajectory time shrinks as ε²: halving ε divides it by 4. "
        "A first order scheme only halves it. Compare your three updates with the order half step, full "
        "step, half step."),
    # -------------------------------------------------------------- exercise 9: full-covariance KL
    "fullkl-formula": (
        "KL[N(μ, L Lᵀ) ‖ N(0, s² I)] = 1/2 [tr(L Lᵀ)/s² + μᵀμ/s² − D + D log s² − log det(L Lᵀ)]. "
        "Check it by hand at μ = 0, L = s·I, where it must be exactly 0, and for a diagonal L, where it "
        "must be exercise 2's sum."),
    "fullkl-not-a-number": (
        "kl_full_cov must return one number: the KL between two Gaussians over the whole vector w, "
        "not one value per weight or per entry of L."),
    "fullkl-missing-logdet": (
        "Your KL differs from the closed form by exactly Σ_i log L_ii (plus a constant): the "
        "log-determinant term is missing. −1/2 log det Σ = −Σ_i log L_ii (the determinant of a triangular "
        "matrix is the product of its diagonal) is q's entropy: without it nothing stops L from "
        "shrinking to 0, and q collapses onto a point, as σ does in exercise 2 without −log σ."),
    "fullkl-grad-missing-logdet": (
        "Your dKL/dL is L/s² alone: the derivative of the log-determinant term is missing. "
        "d/dL_ij of −Σ_k log L_kk is −1/L_ii on the diagonal (i = j) and 0 elsewhere."),
    "fullkl-logdet-twice": (
        "Your log-determinant term is twice too big. log det(L Lᵀ) = 2 Σ_i log L_ii, and the KL has "
        "HALF of it: −1/2 log det Σ = −Σ_i log L_ii (its derivative: −1/L_ii on the diagonal)."),
    "fullkl-logdet-sign": (
        "The log-determinant term has the wrong sign: the KL has −1/2 log det Σ = −Σ_i log L_ii, which "
        "grows as q shrinks (like −log σ in exercise 2)."),
    "fullkl-constant": (
        "Your KL is off by an amount that depends only on D (and s): a constant is wrong. At μ = 0, "
        "L = s·I every term must cancel: tr Σ/s² = D against −D, and D log s² against log det Σ."),
    "fullkl-trace-diagonal-only": (
        "Your trace term sees only the diagonal of L. tr(L Lᵀ) = Σ_i (L Lᵀ)_ii = Σ_i Σ_j L_ij², the "
        "sum of the squares of ALL the entries of L (the squared Frobenius norm): the entries below the "
        "diagonal add variance too."),
    "fullkl-trace-of-L": (
        "You used tr(L), the sum of the diagonal of L. The KL needs tr(Σ) = tr(L Lᵀ) = Σ_ij L_ij², "
        "the trace of the covariance, not of its Cholesky factor."),
    "fullkl-prior-ignored": (
        "Your result is the one for prior_sigma = 1, whatever prior_sigma is passed: use s in tr Σ/s², "
        "μᵀμ/s² and D log s²."),
    "fullkl-grad-mu": (
        "dKL/dμ = μ/s²: only the μᵀμ/(2s²) term depends on μ."),
    "fullkl-grad-L": (
        "dKL/dL = L/s² − diag(1/L_ii): the first part from ‖L‖²/(2s²) = Σ_ij L_ij²/(2s²), the second "
        "from −Σ_i log L_ii, on the diagonal only. Zero above the diagonal."),
    "fullkl-grad-not-lower": (
        "Your gradient has non-zero entries ABOVE the diagonal. Those entries of L are fixed at 0, "
        "they are not parameters of q, so their gradient must be 0 (an optimiser step there would make "
        "L non-triangular and L Lᵀ would no longer be the covariance you meant). A matrix-calculus "
        "formula such as d log det(L)/dL = L^(−T) holds for a full matrix; restricted to the lower "
        "triangle, L^(−T) (upper-triangular) keeps only its diagonal 1/L_ii. Keep the lower triangle "
        "(np.tril)."),
    "fullkl-grad-follows-own-kl": (
        "Your dKL/dL agrees with finite differences of YOUR kl_full_cov, so the differentiation is "
        "right and the KL itself is wrong: fix kl_full_cov first (see its hint above)."),
}
