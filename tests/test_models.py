"""Tests of tinygrad_ce.models (MLP) and its nn.MLP alias."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinygrad_ce import models, nn
from tinygrad_ce.models import MLP, mlp_parameter_count


def test_mlp_layers_names_and_count():
    model = MLP(2, 64, 64, 3, activation="tanh", rng=0)
    assert model.layout == "2-64-64-3" and len(model) == 5
    assert isinstance(model[1], nn.Tanh) and isinstance(model[-1], nn.Linear)
    assert list(model.state_dict()) == [f"{i}.{k}" for i in (0, 2, 4) for k in ("weight", "bias")]
    assert model.num_parameters() == mlp_parameter_count([2, 64, 64, 3]) == 4547
    assert model(np.zeros((5, 2), np.float32)).shape == (5, 3)
    assert MLP(2, 3).layout == "2-3" and len(MLP(2, 3)) == 1


def test_mlp_checks_its_arguments():
    with pytest.raises(ValueError, match="at least an input and an output"):
        MLP(4)
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP(2, 3, activation="gelu")


def test_nn_mlp_is_models_mlp_and_nn_does_not_import_models():
    assert nn.MLP is MLP
    code = "import sys, tinygrad_ce.nn; sys.exit('tinygrad_ce.models' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    assert nn.CNN is models.CNN and nn.LeNet is models.LeNet
    with pytest.raises(AttributeError, match="no attribute 'GPT2'"):
        nn.GPT2  # noqa: B018
