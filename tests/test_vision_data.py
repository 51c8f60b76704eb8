"""Image data: the digits as (N, 1, 8, 8), the bundled MNIST sample, and full MNIST /
Fashion-MNIST read from IDX files the tests write."""

from __future__ import annotations

import numpy as np
import pytest
from test_data import write_idx

from tinygrad_ce import data
from tinygrad_ce.data import DATASETS, load_dataset, load_digits, load_mnist, load_mnist_sample


def test_digits_as_images_are_the_rows_reshaped():
    X, y = load_digits()
    images, labels = load_digits(images=True)
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    np.testing.assert_array_equal(labels, y)
    images[0, 0, 0, 0] = 99  # a copy: the cache is not touched
    assert load_digits(images=True)[0][0, 0, 0, 0] != 99


def test_bundled_mnist_sample():
    X, y = load_mnist_sample()
    assert X.shape == (5000, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 255
    assert np.bincount(y).tolist() == [500] * 10
    images, _ = load_mnist_sample(images=True)
    assert images.shape == (5000, 1, 28, 28)
    # a real digit: ink in the middle, blank borders
    mean = images.mean(axis=(0, 1))
    assert mean[10:18, 10:18].mean() > 5 * mean[:3].mean()
    info = DATASETS["mnist5k"]
    assert info.image_shape == (1, 28, 28) and not info.needs_data_dir


def _write_mnist(folder, n=12, prefix="train", compress=True):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    suffix = ".gz" if compress else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
    return images, labels


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_mnist_from_idx_files_through_the_registry(tmp_path, name):
    images, labels = _write_mnist(tmp_path)
    X, y = load_dataset(name, data_dir=tmp_path)
    np.testing.assert_array_equal(X, images.reshape(12, 784).astype(np.float32))
    np.testing.assert_array_equal(y, labels)
    assert DATASETS[name].needs_data_dir and DATASETS[name].image_shape == (1, 28, 28)
    with pytest.raises(ValueError, match="data_dir=FOLDER"):
        load_dataset(name)


def test_load_mnist_images_view(tmp_path):
    images, _ = _write_mnist(tmp_path, prefix="t10k", compress=False)
    X, _ = load_mnist(tmp_path, kind="test", images=True)
    assert X.shape == (12, 1, 28, 28)
    np.testing.assert_array_equal(X[:, 0], images)
    assert data.load_mnist(tmp_path, kind="test", flatten=False)[0].shape == (12, 28, 28)


def test_missing_idx_files_say_where_they_were_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*does not download"):
        load_dataset("mnist", data_dir=tmp_path)
