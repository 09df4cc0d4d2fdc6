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
    "softplus-sign": (
        "Your values are softplus(−ρ): they DEcrease as ρ grows. σ = log(1 + e^ρ) must grow with ρ "
        "(and approach ρ for large ρ). Check the sign in the exponent."),
    "softplus-is-relu": (
        "Your values are max(ρ, 0): zero for every negative ρ, so σ = 0 there. softplus is the smooth "
        "version, log(1 + e^ρ), which stays above 0 for every ρ (log 2 at ρ = 0)."),
    "softplus-missing-one": (
        "Your values equal ρ itself, as log(e^ρ) would: the 1 inside the log is missing, and σ = ρ "
        "would be negative for negative ρ."),
    "softplus-log-base": (
        "Your values are the right ones divided by log 10 or log 2: use the natural logarithm (np.log, "
        "np.log1p, np.logaddexp), not np.log10 or np.log2."),
    "softplus-is-exp": (
        "Your values are e^ρ: positive, but not softplus; for large ρ they grow far faster than ρ. "
        "softplus(ρ) = log(1 + e^ρ)."),
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
    "kl-grad-s-not-squared": (
        "Your dKL/dμ is μ/s: the prior's standard deviation s where its VARIANCE s² belongs. Only the "
        "μ²/(2s²) term depends on μ; differentiate it again."),
    "kl-quadratic-not-halved": (
        "Your (σ² + μ²) term has lost its 1/2: you have (σ² + μ²)/s² where the closed form has "
        "(σ² + μ²)/(2s²). It is E_q[w²]/(2s²), from the −w²/(2s²) of the prior's log density; without "
        "the 1/2 the KL is not 0 at μ = 0, σ = s."),
    "kl-grad-mu-halved": (
        "Your dKL/dμ is μ/(2s²), half the right one: d/dμ of μ²/(2s²) is 2μ/(2s²) = μ/s² (the 2 "
        "from the square cancels the 1/2)."),
    "kl-grads-swapped": (
        "Your two gradients are in each other's places: kl_normal_grads must return "
        "(dKL/dμ, dKL/dσ), in that order."),
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
    "reparam-sigma-sign": (
        "Your dF/dσ has the wrong sign: w = μ + σ·ε, so dw/dσ = +ε and dF/dσ = dF/dw · ε (a larger σ "
        "moves w further in the direction of ε)."),
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
    "reparam-dsigma-drho-sign": (
        "Your dF/dρ is dF/dσ · sigmoid(−ρ): the sign inside the sigmoid slipped. σ = softplus(ρ) grows "
        "with ρ, and so does its slope: dσ/dρ = 1 / (1 + e^(−ρ)) (exercise 1)."),
    "reparam-dsigma-drho-exp": (
        "Your dF/dρ is dF/dσ · e^ρ: e^ρ is only the inner derivative of log(1 + e^ρ). The outer log "
        "adds 1/(1 + e^ρ), so dσ/dρ = e^ρ / (1 + e^ρ) = sigmoid(ρ) (exercise 1)."),
    "reparam-grad-rho-overflow": (
        "Your dF/dρ is inf or NaN for large |ρ|: e^ρ / (1 + e^ρ) is inf/inf at ρ = 1000. The task says "
        "to keep dσ/dρ stable: use exercise 1's sigmoid, written so that its exponent is never positive."),
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
    "log-softmax-sign": (
        "The second term has the wrong sign: out_i = x_i − log Σ_j e^(x_j), so raising x_j LOWERS every "
        "output of its row through the log-sum-exp; its derivative enters with a minus."),
    "log-softmax-log-probs": (
        "You multiplied by the log-probabilities (the op's output) where the probabilities belong: "
        "d/dx_j log Σ_k e^(x_k) = softmax(x)_j = e^(out_j), not out_j."),
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
    "elbo-loss-uniform-weights": (
        "You weighted the KL by 1/M in every minibatch: that sums to 1, but the exercise asks for "
        "Blundell's weights π_i = 2^(M−i) / (2^M − 1) (your blundell_weights)."),
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
    "unc-entropy-sign": (
        "Your entropy is negative: H[p] = −Σ_c p_c log p_c has a minus in front, and since every "
        "log p_c <= 0 it is never below 0."),
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
    "unc-mi-summed-entropies": (
        "You subtracted the SUM of the S samples' entropies, Σ_s H[p_s], where their mean "
        "(1/S) Σ_s H[p_s] belongs: average over the sample axis, do not add."),
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
    # The probe fits your step, on random (w, p, ε), as w' = w + b·ε p + c·ε²∇log p(w) and
    # p' = p + d·ε∇log p(w) + k·ε∇log p(w'): the line above the hint prints your b, c, d, k.
    "leapfrog-formula": (
        "One leapfrog step is three updates, each using the newest values: p½ = p + (ε/2)∇log p(w), "
        "then w' = w + ε p½, then p' = p½ + (ε/2)∇log p(w'). The gradient of the second half step is "
        "taken at the NEW position w'."),
    "leapfrog-full-first-kick": (
        "Your numbers show a WHOLE first momentum step: your position moved with p + ε∇log p(w) "
        "(the ε² term of w' is twice leapfrog's), and over the step your momentum received 1.5 ε of "
        "gradient instead of one ε. The extra half kick is added at every step, so over a trajectory the "
        "energy drifts by an amount that does not shrink with ε (the slope near 0 of the energy check). "
        "Look at the first momentum update: what fraction of the step does it take?"),
    "leapfrog-forgot-half-step": (
        "Your step matches a scheme with one whole momentum step where leapfrog has two half steps: "
        "symplectic Euler. It is accurate only to first order (energy error ∝ ε, not "
        "ε²) and not symmetric, so running it backwards does not undo it, and HMC's accept/reject step "
        "relies on that reversibility. Split the momentum update: half before the position step, half after."),
    "leapfrog-last-half-missing": (
        "Your first half step and your position step are right, but your returned momentum holds only "
        "the first half kick: the momentum never sees the gradient at the new position w'. Look at what "
        "you return as p_new: is the second half step there?"),
    "leapfrog-first-half-missing": (
        "Your position moved with the OLD momentum p (no ε² term in w'), and the momentum was kicked "
        "only with the gradient at the new position: the first half step is missing. Look at the "
        "momentum you use in the position update."),
    "leapfrog-full-last-kick": (
        "Your first half step and your position step are right, but the second momentum step is a "
        "whole step: over the step your momentum received 1.5 ε of gradient instead of one ε. Look at "
        "the factor of your last momentum update."),
    "leapfrog-old-gradient": (
        "Your second half step uses the gradient at the OLD position w (your momentum change is "
        "ε∇log p(w), with no term in ∇log p(w')). The second half kick must see the force at the new "
        "position: call grad_log_prob again after moving."),
    "leapfrog-position-old-momentum": (
        "Your position moved with the OLD momentum p (no ε² term in w'), while your momentum updates "
        "look like leapfrog's. The position step must use the momentum after the first half kick."),
    "leapfrog-force-sign": (
        "The force has the wrong sign: your numbers have a negative multiple of ∇log p where leapfrog has "
        "a positive one. H = −log p(w) + ½pᵀp, so dp/dt = −∂H/∂w = +∇log p(w): the "
        "momentum is pushed UPHILL in log p, towards more probable weights. With the minus sign the "
        "particle rolls away from the mode and the energy is no longer conserved."),
    "leapfrog-momentum-negated": (
        "Your position is right and your momentum is exactly the negative of leapfrog's. HMC flips the "
        "momentum at the END of a trajectory to make its proposal reversible; one step does not (the "
        "checker's reversibility test flips it itself). Return the momentum as the step leaves it."),
    "leapfrog-position-half": (
        "Your position moved by only half of ε p½. The position takes a FULL step; only the momentum is "
        "split into two halves."),
    "leapfrog-position-step": (
        "Your position moved by a multiple of ε p½ other than 1 (the line above shows the factor b). "
        "The position step is one full step of size ε with the half-kicked momentum."),
    "leapfrog-kicks": (
        "Your momentum updates do not add up to leapfrog's: the line above shows how much of ε∇log p(w) "
        "and of ε∇log p(w') your p' holds (d and k). Over one step the momentum must receive ε times the "
        "average of the two gradients, half of it before the position step and half after, and the "
        "position step must use the momentum after the first half."),
    "leapfrog-step-size-twice": (
        "Your step has a term with a higher power of ε than leapfrog has (e.g. ε² p in w' or ε²∇log p in "
        "p'): the step size is applied twice somewhere. Check each update for ε multiplied in twice "
        "(e.g. once in a helper and once again where it is called)."),
    "leapfrog-step-size-missing": (
        "Your step has a term with a LOWER power of ε than leapfrog has (e.g. p or ∇log p(w) added "
        "without a factor ε): the step size is missing from an update, so the step does not shrink as ε "
        "does. Check that every update is multiplied by ε (or ε/2)."),
    "leapfrog-last-kick-from-old-p": (
        "Your first half step and your position step are right, but your returned momentum holds only "
        "the half kick at the new position, added to the OLD p: the first half kick is lost from it. The "
        "second half step starts from the momentum after the first."),
    "leapfrog-swapped-outputs": (
        "Your step returns (p_new, w_new): its two arrays are leapfrog's, in the wrong order. Return "
        "(w_new, p_new)."),
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
        "Leapfrog's energy error over a fixed trajectory time shrinks as ε²: halving ε divides it by 4 "
        "(slope 2). The line above says what your slope means. Compare your three updates with the "
        "order half step, full step, half step."),
    # -------------------------------------------------------------- exercise 9: full-covariance KL
    # The probe fits (your KL − the closed form), on random (μ, L, s) with D = 1..4, as a sum of the
    # terms below; the line above the hint prints the terms it found.
    "fullkl-formula": (
        "KL[N(μ, L Lᵀ) ‖ N(0, s² I)] = 1/2 [tr(L Lᵀ)/s² + μᵀμ/s² − D + D log s² − log det(L Lᵀ)]. "
        "Check it by hand at μ = 0, L = s·I, where it must be exactly 0, and for a diagonal L, where it "
        "must be exercise 2's sum."),
    "fullkl-not-a-number": (
        "kl_full_cov must return one number: the KL between two Gaussians over the whole vector w, "
        "not one value per weight or per entry of L."),
    "fullkl-missing-logdet": (
        "Your KL differs from the closed form by exactly Σ_i log L_ii: the "
        "log-determinant term is missing. −1/2 log det Σ is q's entropy (up to a constant): without it "
        "nothing stops L from shrinking to 0, and q collapses onto a point, as σ does in exercise 2 "
        "without −log σ. Write log det(L Lᵀ) in terms of the diagonal of L."),
    "fullkl-logdet-half": (
        "Your log-determinant term is half of what it should be: in the KL your value minus the closed form "
        "is +1/2 Σ_i log L_ii (not a constant: it changes with L), in dKL/dL the diagonal is off by +1/(2 L_ii). "
        "Look at how you turned log det(L Lᵀ) into the diagonal of L: det(L Lᵀ) = det(L)·det(Lᵀ), so how "
        "many factors of each L_ii does it hold?"),
    "fullkl-logdet-twice": (
        "Your log-determinant term is twice too big: in the KL your value minus the closed form is "
        "−Σ_i log L_ii, in dKL/dL the diagonal is off by −1/L_ii. The KL has HALF of log det Σ: check the "
        "factor 1/2 in front of the bracket, and how many factors of each L_ii det(L Lᵀ) holds."),
    "fullkl-logdet-sign": (
        "The log-determinant term has the wrong sign: in the KL your value minus the closed form is "
        "+2 Σ_i log L_ii, in dKL/dL the diagonal is off by +2/L_ii. The KL must grow as q shrinks (like "
        "−log σ in exercise 2)."),
    "fullkl-logdet-factor": (
        "Your log-determinant term has the wrong factor (the line above shows the multiple of Σ_i log L_ii, "
        "or of 1/L_ii on the diagonal of dKL/dL, by which you are off). Check how log det(L Lᵀ) is written "
        "with the diagonal of L, and the 1/2 in front of the bracket."),
    "fullkl-logdet-diag-of-cov": (
        "Your log-determinant uses the diagonal of Σ = L Lᵀ, log (L Lᵀ)_ii, summed: that is log det Σ only "
        "when Σ is diagonal (your KL is right for a diagonal L and wrong once L has entries below the "
        "diagonal). The determinant of the TRIANGULAR factor L is the product of ITS diagonal; write "
        "log det Σ with that."),
    "fullkl-constant": (
        "Your KL is off by a constant that does not depend on μ, L, s or D (the line above shows it). "
        "At μ = 0, L = s·I every term must cancel exactly: look for a stray number (a log 2π, a 1/2)."),
    "fullkl-minus-d": (
        "Your KL differs from the closed form by a multiple of D, the number of weights: the −D term "
        "(−D/2 after the factor 1/2) is missing, halved or doubled. At μ = 0, L = s·I, tr Σ/s² = D must "
        "cancel against it."),
    "fullkl-prior-logdet": (
        "Your KL differs from the closed form by a multiple of log s (or D log s): the prior's "
        "log-determinant, log det(s² I) = D log s², has the wrong sign, the wrong factor, or is missing "
        "its D. It enters with the OPPOSITE sign to log det Σ."),
    "fullkl-trace-diagonal-only": (
        "Your trace term sees only the diagonal of L (your result is right for a diagonal L and ignores "
        "the entries below it). tr(L Lᵀ) = Σ_i (L Lᵀ)_ii collects the squares of ALL the entries of L: "
        "the entries below the diagonal add variance too."),
    "fullkl-trace-of-L": (
        "Your trace term changes with tr(L), the sum of the diagonal of L: you used L where L Lᵀ belongs. "
        "The KL needs tr(Σ) = tr(L Lᵀ), the trace of the covariance, not of its Cholesky factor."),
    "fullkl-trace-no-prior-precision": (
        "Your trace term is tr(Σ), not tr(Σ_p⁻¹ Σ) = tr(Σ)/s²: the prior's precision 1/s² is missing "
        "from it (your result is right for s = 1 only). Every term that compares q with the prior "
        "carries the prior's covariance s² I."),
    "fullkl-mean-no-prior-precision": (
        "Your mean term is μᵀμ, not μᵀ Σ_p⁻¹ μ = μᵀμ/s²: the prior's precision 1/s² is missing from it "
        "(your result is right for s = 1 only)."),
    "fullkl-prior-sigma-not-squared": (
        "Your result divides by s where the prior's VARIANCE s² belongs (the prior is N(0, s² I)): "
        "check each 1/s in your formula."),
    "fullkl-trace-factor": (
        "Your trace term tr(Σ)/s² has the wrong factor (the line above shows how far off): missing, "
        "not halved, or doubled. Check it against the 1/2 in front of the bracket."),
    "fullkl-mean-factor": (
        "Your mean term μᵀμ/s² has the wrong factor (the line above shows how far off): missing, not "
        "halved, or doubled. Check it against the 1/2 in front of the bracket."),
    "fullkl-trace-all-entries": (
        "Your trace term adds up ALL the entries of Σ = L Lᵀ (np.sum of the matrix): the off-diagonal "
        "covariances do not belong in it. The trace is the sum of the DIAGONAL of Σ, the variances only."),
    "fullkl-mean-uses-q-covariance": (
        "Your mean term weighs μ with q's covariance, μᵀ Σ⁻¹ μ. In KL[q ‖ p] the mean term measures μ "
        "(q's mean minus the prior's, 0) in the PRIOR's metric: μᵀ Σ_p⁻¹ μ with Σ_p = s² I."),
    "fullkl-reversed": (
        "Your numbers are those of KL[p ‖ q], the other direction: your terms use the inverse of q's "
        "covariance (tr(Σ⁻¹)·s², μᵀΣ⁻¹μ) where KL[q ‖ p] uses the prior's, 1/s². The KL is not symmetric; "
        "exercise 9 asks for the one with q first, the one in the ELBO."),
    "fullkl-d-wrong": (
        "Your result changes with D², not D: you counted the entries of L (D·D, e.g. L.size) where D, "
        "the number of weights (the length of μ), belongs."),
    "fullkl-grad-logdet-every-entry": (
        "Your dKL/dL has −1/L_ij on the entries BELOW the diagonal too: the derivative of the "
        "log-determinant was taken entry by entry over the whole of L. log det(L Lᵀ) depends on the "
        "diagonal of L only, so that part of the gradient is 0 off the diagonal."),
    "fullkl-prior-ignored": (
        "Your result is the one for prior_sigma = 1, whatever prior_sigma is passed: use s in tr Σ/s², "
        "μᵀμ/s² and D log s²."),
    "fullkl-grad-logdet-not-transposed": (
        "Your dKL/dL has −(L⁻¹)_ij on the entries BELOW the diagonal: the matrix-calculus rule "
        "d log|det L| / dL = L⁻ᵀ was used without its transpose. L⁻¹ is lower-triangular, so below "
        "the diagonal it is not zero, but L⁻ᵀ is upper-triangular: on and below the diagonal only its "
        "diagonal 1/L_ii is left, as writing log det(L Lᵀ) with the diagonal of L shows directly."),
    "fullkl-grad-mu": (
        "dKL/dμ: only the μᵀμ/(2s²) term depends on μ. Differentiate it entry by entry."),
    "fullkl-grad-mu-factor": (
        "Your dKL/dμ is a multiple of the right one (the line above shows the difference): the factor "
        "1/2 of μᵀμ/(2s²) and the 2 from differentiating μ_i² must cancel."),
    "fullkl-grad-L": (
        "dKL/dL: differentiate each term with respect to each entry L_ij with j ≤ i: the trace term "
        "through Σ_ij L_ij², the log-determinant through the diagonal only. Zero above the diagonal."),
    "fullkl-grad-missing-logdet": (
        "Your dKL/dL lacks the derivative of the log-determinant term: your gradient is too large by "
        "1/L_ii on the diagonal and right elsewhere. Differentiate −1/2 log det(L Lᵀ) written with the "
        "diagonal of L."),
    "fullkl-grad-trace-factor": (
        "The part of your dKL/dL that comes from the trace term is a wrong multiple of the right one "
        "(the line above shows the difference): d/dL_ij of Σ L_ij² is 2 L_ij, and the KL has "
        "1/(2s²) in front."),
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

    # -------------------------------------------------------------- exercise 10: AIS log weights
    # ais_log_weights is fitted, on random schedules, as Σ_t a_t log p(𝒟|w_t) (+ a constant);
    # log_evidence_estimate as a sum of log Σ_c W_c, log n, mean_c log W_c, max_c log W_c, ...
    # The line above the hint prints the fit.
    "ais-log-weights-formula": (
        "Your log weights match none of the usual slips the checker knows. Each step t = 1..T adds the log "
        "of the ratio f_t / f_{t−1} of two consecutive unnormalised densities, f_t(w) = p(w) p(data|w)^β_t, "
        "evaluated at the state the chain held before that step's transition; write that log ratio out "
        "and sum it over the steps, for each chain (one number per column of the table)."),
    "ais-beta-not-increment": (
        "Your weight multiplies each log-likelihood by β itself (the fitted line above shows the factors "
        "are the β's of the schedule). Write out log f_t(w) − log f_{t−1}(w) for f_t(w) = p(w) p(data|w)^β_t: "
        "what multiplies log p(data|w) is what changed between the two levels, not where the schedule is."),
    "ais-likelihood-at-new-point": (
        "Your weight takes each step's log-likelihood at the state AFTER that step's transition (the fit "
        "above uses w_1 .. w_T and never w_0, the draw from the prior). The ratio f_t / f_{t−1} is "
        "evaluated where the chain was when it arrived at level β_t, before it moved: that point is "
        "distributed (approximately) as π_{β_{t−1}}, which is what makes E[W] = p(data). Look at which row of "
        "the table your step t reads."),
    "ais-trapezoid": (
        "Your weight gives each step the average of the log-likelihoods before and after the transition "
        "(the fit above puts half of each increment on two neighbouring states): the trapezoid rule of "
        "thermodynamic integration, which estimates log p(data) as an integral over β. AIS is not a "
        "quadrature: each step's ratio is evaluated at one point only, the state before the transition, "
        "and only then does the average of the weights equal p(data)."),
    "ais-increment-sign": (
        "Your log weights have the right size and the wrong sign: each step's factor is β_{t−1} − β_t, "
        "negative (the fit above). Going from the prior (β = 0) to the posterior (β = 1) the ratio "
        "f_t / f_{t−1} = p(data|w)^(β_t − β_{t−1}) raises the likelihood to a positive power."),
    "ais-uniform-steps": (
        "Your weight gives every step the same factor 1/T (the fit above), as if the schedule were evenly "
        "spaced. The checker's schedules are not: the steps near β = 0 are short and the later ones long. "
        "Each step's factor must come from the schedule you are given."),
    "ais-mean-over-steps": (
        "Your weight is the right one divided by T (the fit above): you averaged the steps' log ratios "
        "instead of adding them. A chain's weight is the PRODUCT of its T ratios, and the log of a "
        "product is a sum."),
    "ais-increment-missing": (
        "Your weight adds the log-likelihoods with factor 1 (the fit above): the schedule does not enter. "
        "Each step raises the likelihood only by the part of the power that step adds."),
    "ais-sum-over-chains": (
        "Your result has one number per step (or one number in all), not one per chain: you summed over "
        "the chains. The table has one row per state t and one column per chain c; each chain's weight "
        "collects its own column, over the steps (look at the axis of your sum)."),
    "ais-not-summed-over-steps": (
        "Your result is a whole table (one row per step), not one log weight per chain. A chain's weight "
        "is the product of its T ratios, so its log is the sum of the T log ratios: reduce over the steps."),
    "ais-weights-not-log": (
        "Your result is the weight W itself, exp of what was asked. Return the LOG weights: they grow with "
        "the data set, and exp of them overflows or underflows in float64 beyond about ±700 nats."),
    "ais-log-evidence-formula": (
        "Your estimate matches none of the usual slips the checker knows. The weights W_c estimate p(data) by "
        "their mean, so the estimate of log p(data) is the log of that mean, computed from the log weights "
        "without exponentiating them as they are (factor out the largest one first). Try log [1, 2, 3, 6] "
        "by hand: the mean of 1, 2, 3, 6 is 3."),
    "ais-mean-of-log-weights": (
        "Your estimate is the mean of the LOG weights (the fit above): you averaged in log space. E[W] = "
        "p(data), but E[log W] is not log p(data): by Jensen's inequality the mean of the logs is smaller than "
        "the log of the mean (by half the variance of log W when log W is normal), and the run on the "
        "conjugate model shows it falling short. Look at what your mean is taken of."),
    "ais-lse-without-log-n": (
        "Your estimate is the log of the SUM of the weights (the fit above): it grows with the number of "
        "chains, by log n, and so does not settle on log p(data) as you add chains. The evidence is estimated "
        "by the mean of the weights."),
    "ais-log-n-factor": (
        "Your estimate has log Σ_c W_c right and a wrong multiple of log n (the fit above): turning the sum "
        "of n weights into their mean is one division by n, inside the log."),
    "ais-log-divided-by-n": (
        "Your estimate divides the log of the sum by n (the fit above): the 1/n of a mean belongs inside "
        "the log, where dividing by n becomes subtracting a term."),
    "ais-max-not-added-back": (
        "Your estimate is short by exactly the largest log weight (the fit above): you factored out "
        "m = max log W before exponentiating, which is the right way to avoid overflow, and did not put "
        "it back. exp(log W − m) are the weights divided by e^m; undo that division after the log."),
    "ais-max-added-twice": (
        "Your estimate is too large by exactly the largest log weight m (the fit above): m was added back "
        "to a sum that had not been shifted by it, or added twice. Follow m through your lines: it should "
        "be taken out once and put back once."),
    "ais-n-not-log-n": (
        "Your estimate has a term in n itself, the number of chains (the fit above): n appears where its "
        "log belongs. Once outside the log, dividing by n is subtracting its log."),
    "ais-max-weight-only": (
        "Your estimate is the largest log weight (the fit above), not the log of the mean of all the "
        "weights. The largest term dominates a log-sum-exp, but the others still count."),
    "ais-lme-overflow": (
        "Your estimate is right for moderate log weights and inf, −inf or NaN for log weights near ±1000 "
        "or far apart (the line above): exp(710) is inf and exp(−746) is 0 in float64, and log weights grow with the "
        "data set (a log-likelihood is a sum over the data points). The log of a mean of exponentials does not change if you factor a common "
        "e^m out of every term first; choose m so that no exponent you compute is large."),
    "ais-evidence-not-log": (
        "Your estimate is the mean of the weights, an estimate of p(data) itself; the function returns its "
        "LOG, which stays a moderate number when p(data) is e^(−1000)."),
    "ais-evidence-formula": (
        "On this run your two functions together miss the exact log evidence by more than the Monte Carlo "
        "error allows. Check each against its formula: the log weight Σ_t (β_t − β_{t−1}) log p(data|w_{t−1}) "
        "for each chain, and the log of the mean of the weights."),

    # -------------------------------------------------------------- exercise 11: the backward of a convolution
    # The probes run conv2d_backward on 7 random cases and compare with the right gradients under every
    # combination of the slips below; the line above the hint says what the student's numbers equal.
    "conv-grad-x-formula": (
        "Your grad_x matches none of the usual slips the checker knows. Start from one window: output "
        "pixel (i, j) used xp[n, c, s·i + a, s·j + e] once for each kernel offset (a, e), multiplied by "
        "W[o, c, a, e]. So it sends Σ_o G[n, o, i, j] W[o, c, a, e] back to exactly that pixel of the "
        "padded image. Add these over every window and offset, then keep the part over the image."),
    "conv-grad-weight-formula": (
        "Your grad_weight matches none of the usual slips the checker knows. W[o, c, a, e] multiplied "
        "xp[n, c, s·i + a, s·j + e] in output pixel y[n, o, i, j], in every window of every image. Its "
        "gradient collects G[n, o, i, j] times that pixel over all of them (the matrix form: G_colᵀ col(x))."),
    "conv-kernel-flip": (
        "Your grad_x is what the right gradient would be with every kernel turned by 180° (the line "
        "above). Writing dF/dx as a 'full convolution' of G with the kernel is right, but which way the "
        "kernel faces depends on whether that convolution flips it or slides it as it is (a cross-"
        "correlation, which is what conv2d computes). Do not decide this from memory. Take a 1-D case, a "
        "kernel [w0, w1], one output y_i = w0 x_i + w1 x_(i+1), and write out which w each x_h meets. "
        "Then compare with what your code multiplies G by."),
    "conv-input-grad-channels-swapped": (
        "Your grad_x reads the kernel as if its first axis were the input channels (the lines above). It "
        "only runs when C_in = C_out, and there it gives wrong numbers. W has shape (C_out, C_in, kH, kW). "
        "The gradient flows back from output channel o to input channel c through W[o, c], and it is summed "
        "over o. Follow the shapes in your product or einsum: which axis of W is summed?"),
    "conv-scatter-stride-ignored": (
        "Your grad_x places the windows' terms as if the stride were 1 (the lines above): with stride 1 it "
        "is right, with a larger stride it is not. Window (i, j) starts at pixel (s·i, s·j) of the padded "
        "image, so offset (a, e) of that window is pixel (s·i + a, s·j + e). Look at where your scatter "
        "starts each window, or the step of your slice."),
    "conv-padding-not-cropped": (
        "Your grad_x has the shape of the PADDED image, H + 2p by W + 2p (the lines above). The padding "
        "zeros are constants added by the forward, not inputs: nothing upstream receives their gradient. "
        "Return only the part of dF/dxp that lies over the H × W image."),
    "conv-padding-cropped-wrong": (
        "Your grad_x has the right shape but is cut from the wrong place of the padded gradient (the line "
        "above): the values near the border are shifted. The forward added p zeros on EVERY side (top, "
        "bottom, left and right), so the image sits in the middle of xp. Which rows and columns of xp are "
        "the image's?"),
    "conv-overlaps-overwritten": (
        "Your grad_x keeps, at each pixel, the term of one window only (the lines above): it is right where "
        "the windows do not overlap (stride ≥ kernel size) and wrong where they do. A pixel covered by "
        "several windows was copied into each of them. The adjoint of copying is a sum, so every window's "
        "term must be ADDED to the pixel. Look for an assignment `=` where an accumulation belongs. The "
        "checker's hand-worked case shows it: the centre pixel is in all four windows."),
    "conv-grads-swapped": (
        "One of your results is the OTHER gradient (the lines above): dF/dW where dF/dx belongs, or dF/dx "
        "where dF/dW belongs. The function returns (grad_x, grad_weight): the image's gradient first, with "
        "x's shape, then the kernel's, with weight's shape. Check the order of your return statement and "
        "which variable goes where."),
    "conv-weight-flipped": (
        "Your grad_weight is the right one turned by 180° (the lines above). W[o, c, a, e] met the pixel at "
        "offset (a, e) of each window: entry (a, e) of the gradient collects the pixels at that same offset, "
        "not at (kH − 1 − a, kW − 1 − e). Check the direction in which you slide or index the windows."),
    "conv-weight-grad-channels-swapped": (
        "Your grad_weight has shape (C_in, C_out, kH, kW), with the right numbers in it (the lines above). The "
        "gradient of a parameter has the parameter's shape, (C_out, C_in, kH, kW). In G_colᵀ col(x), which "
        "factor gives the rows and which the columns?"),
    "conv-weight-stride-ignored": (
        "Your grad_weight takes the windows at stride 1 (the lines above): with stride 1 it is right, with "
        "a larger stride it is not. The kernel met only the windows that start at (s·i, s·j). Look at "
        "which pixels your code pairs with G[n, o, i, j]."),
    "conv-weight-batch-not-summed": (
        "Your grad_weight does not add the images' terms (the lines above): it is one image's term, or one "
        "kernel gradient per image. The same kernel is used on every image of the batch. Like a weight "
        "broadcast over the batch axis, its gradient is the SUM of the gradients through each use. Check "
        "which axis your product or loop reduces over, and whether a loop over images adds or overwrites."),
    "conv-weight-batch-averaged": (
        "Your grad_weight is the right one divided by N, the number of images (the lines above): you "
        "averaged over the batch. If the loss is a mean over the batch, that 1/N is already in G = dF/dy. "
        "The op itself adds the terms of the images, as any parameter used N times does."),
}

# The restatements of a formula, given when no probe recognised a mistake. Every other key names a
# mistake the checker recognised: it is the "diagnosis" of a failed check in check.py's --json output.
GENERIC_HINTS = frozenset({
    "softplus-formula", "softplus-grad-formula", "kl-formula", "kl-grad-mu", "kl-grad-sigma", "reparam-formula",
    "op-vjp", "elbo-weights-formula", "elbo-loss-formula", "unc-entropy-formula", "unc-mi-formula", "lrt-mean",
    "lrt-variance", "lrt-sample-eps", "leapfrog-formula", "leapfrog-not-reversible", "leapfrog-energy",
    "fullkl-formula", "fullkl-grad-mu", "fullkl-grad-L", "ais-log-weights-formula", "ais-log-evidence-formula",
    "ais-evidence-formula", "conv-grad-x-formula", "conv-grad-weight-formula"})
