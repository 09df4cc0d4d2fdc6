"""The public API that tutorials, exercises and outside checks rely on (the design's contract)."""
import inspect

import numpy as np

import minivi as mv

CONTRACT = {
    mv: ["Tensor", "no_grad", "numerical_grad", "gradcheck", "gaussian", "BayesLinear", "Linear", "Sequential",
         "ReLU", "Tanh", "Module", "kl_divergence", "gaussian_nll", "categorical_nll", "elbo_loss", "optim", "fit",
         "predict", "exact", "make_op", "unbroadcast", "save", "load", "Parameter", "BayesianModule"],
    mv.gaussian: ["softplus", "softplus_grad", "inverse_softplus", "reparameterize", "reparameterize_grads",
                  "kl_normal", "kl_normal_grads"],
    mv.optim: ["SGD", "Adam"],
    mv.exact: ["blr_posterior", "blr_log_evidence", "mean_field_optimum"],
    mv.flat: ["parameters_to_vector", "vector_to_parameters", "functional_forward", "log_joint", "log_likelihood"],
    mv.mcmc: ["hmc", "split_rhat", "effective_sample_size", "leapfrog"],
    mv.fullcov: ["FullCovGaussian", "fit_full_cov", "kl_full_cov", "kl_full_cov_grads", "sample_full_cov"],
}


def test_every_contract_name_is_public():
    missing = [f"{module.__name__}.{name}" for module, names in CONTRACT.items()
               for name in names if not hasattr(module, name)]
    assert not missing, missing


def test_contract_signatures():
    assert list(inspect.signature(mv.gaussian.kl_normal).parameters)[:4] == ["mu", "sigma", "prior_mu", "prior_sigma"]
    assert list(inspect.signature(mv.elbo_loss).parameters)[:7] == [
        "model", "x", "y", "nll", "n_data", "n_samples", "kl_weight"]
    assert list(inspect.signature(mv.numerical_grad).parameters) == ["f", "arrays", "eps"]
    layer = mv.BayesLinear(3, 2, prior_sigma=1.0, rng=np.random.default_rng(0))
    assert layer.weight_mu.shape == layer.weight_rho.shape == (3, 2)
    assert layer.bias_mu.shape == layer.bias_rho.shape == (2,)
    assert layer.kl().shape == ()


def test_flat_and_hmc_signatures():
    assert list(inspect.signature(mv.flat.functional_forward).parameters) == ["model", "w", "x"]
    assert list(inspect.signature(mv.flat.vector_to_parameters).parameters) == ["vec", "model"]
    joint = inspect.signature(mv.flat.log_joint).parameters
    assert list(joint)[:3] == ["model", "x", "y"]
    assert {"likelihood", "noise_sigma", "prior_sigma", "fan_in_prior"} <= set(joint)
    hmc = inspect.signature(mv.mcmc.hmc).parameters
    assert list(hmc)[:4] == ["log_prob", "init", "n_samples", "n_warmup"] and "rng" in hmc
