"""minivi: variational inference for neural networks (Bayes by Backprop), built from NumPy.

The public names, by layer (see README.md for the map to the derivation):
  engine     Tensor, no_grad, make_op, unbroadcast, numerical_grad, gradcheck
  modules    Module, Linear, Sequential, ReLU, Tanh
  optimisers optim.SGD, optim.Adam
"""
from . import optim
from .gradcheck import gradcheck, numerical_grad
from .nn import Linear, Module, ReLU, Sequential, Tanh
from .tensor import Tensor, make_op, no_grad, unbroadcast

__all__ = ["Tensor", "no_grad", "make_op", "unbroadcast", "numerical_grad", "gradcheck",
           "Module", "Linear", "Sequential", "ReLU", "Tanh", "optim"]
