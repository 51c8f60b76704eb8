"""tinygrad_ce: a small reverse-mode autodiff engine on numpy, built to show how gradients flow.

The core (``Tensor``, ``grad``, ``no_grad``, ``jacobian``, ``gradcheck``) is imported eagerly;
the rest (``functional``, ``nn``, ``optim``, ``data``, drawing, comparing) is imported on first
use so that ``import tinygrad_ce`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .autograd import Function, enable_grad, grad, is_grad_enabled, no_grad
from .checks import GradcheckError, gradcheck, jacobian, numerical_grad
from .tensor import Tensor

__version__ = "0.1.0"

# name -> module that defines it; loaded lazily by __getattr__
_LAZY = {
    "functional": "tinygrad_ce.functional",
    "F": "tinygrad_ce.functional",
    "nn": "tinygrad_ce.nn",
    "optim": "tinygrad_ce.optim",
    "data": "tinygrad_ce.data",
    "draw_graph": "tinygrad_ce.viz",
    "explain": "tinygrad_ce.viz",
    "render_graph": "tinygrad_ce.viz",
    "to_html": "tinygrad_ce.viz",
    "compare_cross_entropy": "tinygrad_ce.compare",
    "where": "tinygrad_ce.functional",
    "cat": "tinygrad_ce.functional",
    "stack": "tinygrad_ce.functional",
}

__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "enable_grad",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "jacobian",
    "no_grad",
    "numerical_grad",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = (
            module if name in ("functional", "F", "nn", "optim", "data") else getattr(module, name)
        )
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tinygrad_ce' has no attribute {name!r}")
