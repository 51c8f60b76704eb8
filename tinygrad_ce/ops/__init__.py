"""Every primitive op, one small class each, grouped by kind.

Each class holds its forward, its VJP rule and its formulas (``args``, ``formula``, ``vjp``:
what ``explain``, ``draw_graph(rules=True)`` and its docstring show). Adding an op is one class
in the file of its kind, a method on ``Tensor`` or a function in ``functional`` that calls
``Op.apply``, and its tests.

=================  ==========================================================================
``elementwise``    Add Sub Mul Div Pow Maximum Minimum (broadcasting), Where (a constant
                   boolean mask), Neg Exp Log Abs ReLU Tanh Sigmoid Erf GELU Cast
``reduce``         Sum Max
``shape``          Reshape Transpose BroadcastTo GetItem ScatterAdd Concat Embedding
``linalg``         MatMul, Affine (a whole linear layer in one node)
``conv``           Conv2d (with Conv2dInputGrad, Conv2dWeightGrad: its rules, convolutions
                   again), MaxPool2d, AvgPool2d
``norm``           BatchNorm (training mode), LayerNorm: one node each, the compact backward
``loss``           SoftmaxCrossEntropy (fused) and the target handling it shares with the
                   composed loss
=================  ==========================================================================

Notation: ``g`` is the upstream gradient (the output's shape), ``dx`` the gradient sent to input
``x``. A rule returns the gradient for the *broadcast* shape; the engine sums it back to each
input's shape (``autograd.unbroadcast``). Rules run on ndarrays or on Tensors (for higher-order
gradients), so they use only operations both provide.
"""

from .conv import AvgPool2d, Conv2d, Conv2dInputGrad, Conv2dWeightGrad, MaxPool2d
from .elementwise import (
    GELU,
    Abs,
    Add,
    Cast,
    Div,
    Erf,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    ReLU,
    Sigmoid,
    Sub,
    Tanh,
    Where,
    log,
    where,
)
from .linalg import Affine, MatMul
from .loss import SoftmaxCrossEntropy
from .norm import BatchNorm, LayerNorm
from .reduce import Max, Sum
from .shape import (
    BroadcastTo,
    Concat,
    Embedding,
    GetItem,
    Reshape,
    ScatterAdd,
    Transpose,
    broadcast_to,
    normalize_index,
    scatter_add,
)

__all__ = [
    "GELU",
    "Abs",
    "Add",
    "Affine",
    "AvgPool2d",
    "BatchNorm",
    "BroadcastTo",
    "Cast",
    "Concat",
    "Conv2d",
    "Conv2dInputGrad",
    "Conv2dWeightGrad",
    "Div",
    "Embedding",
    "Erf",
    "Exp",
    "GetItem",
    "LayerNorm",
    "Log",
    "MatMul",
    "Max",
    "Maximum",
    "Minimum",
    "MaxPool2d",
    "Mul",
    "Neg",
    "Pow",
    "ReLU",
    "Reshape",
    "ScatterAdd",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Where",
    "broadcast_to",
    "log",
    "normalize_index",
    "scatter_add",
    "where",
]
