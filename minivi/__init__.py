"""minivi: variational inference for neural networks (Bayes by Backprop), built from NumPy.

The public names, by layer (see README.md for the map to the derivation):
  engine      Tensor, no_grad, make_op, unbroadcast, numerical_grad, gradcheck
  math        gaussian (softplus, reparameterize, kl_normal and their gradients)
  modules     Module, Parameter, BayesianModule, Linear, Sequential, ReLU, Tanh; BayesLinear, LocalBayesLinear, priors
  conv        conv2d, max_pool2d, avg_pool2d, Conv2d, Flatten, MaxPool2d, AvgPool2d; BayesConv2d, LocalBayesConv2d
  flipout     FlipoutLinear, FlipoutConv2d and their ops flipout_linear, flipout_conv2d
  objective   gaussian_nll, categorical_nll, LearnedNoise, elbo_loss, kl_weights
  training    optim.SGD, optim.Adam, fit, History
  use         predict and the uncertainty summaries
  saving      save, load (plain .npz files, read without pickle)
  asides      exact (conjugate ground truth), data (toy sets, digits)
  truth       flat (a network's weights as one vector, its log joint), mcmc (HMC, split R-hat, ESS)
  full cov    fullcov: FullCovGaussian q = N(mu, L L^T) on a flat weight vector, fit_full_cov
  evidence    evidence: log p(𝒟) by annealed importance sampling (forward and reverse), ELBOs with error bars
  laplace     laplace: the Laplace evidence, GGN, linearised predictive, the evidence's prior precision
  dropout     Dropout, dropout_kl: MC dropout read as variational inference
"""
from . import data, dropout, evidence, exact, flat, fullcov, gaussian, io, laplace, mcmc, optim
from .bayes_conv import BayesConv2d, LocalBayesConv2d
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, avg_pool2d, conv2d, max_pool2d
from .flipout import FlipoutConv2d, FlipoutLinear, flipout_conv2d, flipout_linear
from .bayes import (BayesLinear, GaussianPrior, LocalBayesLinear, ScaleMixturePrior, kl_divergence,
                    signal_to_noise)
from .dropout import Dropout, dropout_kl
from .elbo import elbo_loss, kl_weights, warmup_factor
from .fullcov import FullCovGaussian, fit_full_cov
from .gradcheck import gradcheck, numerical_grad
from .io import load, save
from .likelihoods import LearnedNoise, categorical_nll, gaussian_nll
from .nn import BayesianModule, Linear, Module, Parameter, ReLU, Sequential, Tanh
from .predict import (categorical_log_likelihood, classification_uncertainty, expected_calibration_error,
                      gaussian_log_likelihood, predict, regression_uncertainty, reliability_curve)
from .tensor import Tensor, make_op, no_grad, unbroadcast
from .train import History, fit

__all__ = [
    "Tensor", "no_grad", "make_op", "unbroadcast", "numerical_grad", "gradcheck", "gaussian",
    "Module", "Linear", "Sequential", "ReLU", "Tanh", "Parameter", "BayesianModule",
    "conv2d", "max_pool2d", "avg_pool2d", "Conv2d", "Flatten", "MaxPool2d", "AvgPool2d",
    "BayesLinear", "LocalBayesLinear", "GaussianPrior", "ScaleMixturePrior", "kl_divergence", "signal_to_noise",
    "BayesConv2d", "LocalBayesConv2d", "FlipoutLinear", "FlipoutConv2d", "flipout_linear", "flipout_conv2d",
    "gaussian_nll", "categorical_nll", "LearnedNoise", "elbo_loss", "kl_weights", "warmup_factor",
    "optim", "fit", "History",
    "predict", "regression_uncertainty", "classification_uncertainty", "expected_calibration_error",
    "reliability_curve", "gaussian_log_likelihood", "categorical_log_likelihood",
    "save", "load", "io", "exact", "data",
    "flat", "mcmc",
    "fullcov", "FullCovGaussian", "fit_full_cov",
    "evidence", "laplace", "dropout", "Dropout", "dropout_kl",
]
