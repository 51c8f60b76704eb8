"""tinygrad_ce.data: generated sets, bundled digits, IDX/MNIST files, batching and scaling."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from tinygrad_ce import Tensor
from tinygrad_ce.data import (
    DATASETS,
    DataLoader,
    DatasetInfo,
    Standardizer,
    blobs,
    circles,
    load_dataset,
    load_digits,
    load_mnist,
    moons,
    one_hot,
    read_idx,
    spiral,
    standardize,
    train_test_split,
    xor,
)

GENERATORS = {
    "spiral": (spiral, 300, 3),
    "moons": (moons, 300, 2),
    "circles": (circles, 300, 2),
    "blobs": (blobs, 300, 3),
    "xor": (xor, 300, 2),
}


# ---------------------------------------------------------------- generated 2-D sets


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_shapes_dtypes_balance(name):
    fn, n, k = GENERATORS[name]
    X, y = fn()
    assert X.shape == (n, 2) and X.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.all(np.isfinite(X))
    np.testing.assert_array_equal(np.bincount(y), [n // k] * k)


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_seeding(name):
    fn = GENERATORS[name][0]
    X1, y1 = fn(seed=3)
    X2, y2 = fn(seed=3)
    X3, _ = fn(seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_rows_are_shuffled(name):
    _, y = GENERATORS[name][0]()
    assert len(np.unique(y[:30])) > 1  # not sorted by class


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_docstring_is_complete(name):
    doc = GENERATORS[name][0].__doc__
    assert "{" not in doc  # every shared entry was filled in
    assert "seed : int" in doc and "X : ndarray, float32" in doc


def test_uneven_counts_differ_by_at_most_one():
    for X, y, k in [
        (*moons(n=301), 2),
        (*circles(n=7), 2),
        (*blobs(n=10, centers=4), 4),
        (*xor(n=303), 2),
    ]:
        counts = np.bincount(y, minlength=k)
        assert counts.sum() == len(X) and counts.max() - counts.min() <= 1


def test_spiral_options():
    X, y = spiral(n_per_class=50, classes=5, noise=0.0)
    assert X.shape == (250, 2) and set(y) == set(range(5))
    radius = np.linalg.norm(X, axis=1)
    assert radius.max() <= 1.0 + 1e-6  # noise only turns the angle


def test_noise_free_geometry():
    X, y = circles(n=100, noise=0.0, factor=0.3)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, rtol=1e-6)
    X, y = xor(n=200, noise=0.0)
    np.testing.assert_array_equal(y, (X[:, 0] > 0) ^ (X[:, 1] > 0))
    assert np.abs(X).min() >= 0.1 - 1e-6
    X, y = moons(n=200, noise=0.0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0, rtol=1e-6)


def test_blobs_explicit_centers_and_separation():
    X, y = blobs(n=400, centers=[[0, 0], [10, 10]], std=0.5)
    np.testing.assert_allclose(X[y == 0].mean(0), [0, 0], atol=0.15)
    np.testing.assert_allclose(X[y == 1].mean(0), [10, 10], atol=0.15)
    X, y = blobs(n=300, centers=3, std=1.0, seed=1)
    means = np.stack([X[y == k].mean(0) for k in range(3)])
    gaps = [np.linalg.norm(means[i] - means[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 5


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: spiral(n_per_class=0), "n_per_class"),
        (lambda: spiral(classes=2.5), "classes"),
        (lambda: moons(n=1), "n must be"),
        (lambda: moons(noise=-0.1), "noise"),
        (lambda: circles(factor=1.0), "factor"),
        (lambda: blobs(centers=[1, 2, 3]), r"shape \(K, 2\)"),
        (lambda: blobs(n=2, centers=3), "n must be"),
        (lambda: blobs(std=float("nan")), "std"),
        (lambda: xor(n=3), "n must be"),
    ],
)
def test_generator_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- digits


def test_digits():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    assert X.min() == 0 and X.max() == 16
    np.testing.assert_array_equal(X, np.round(X))
    assert np.bincount(y).min() >= 170  # roughly balanced: 174..183 per class
    # first image is a 0 (a ring of ink around an empty centre)
    assert y[0] == 0 and X[0].reshape(8, 8)[3:5, 3:5].sum() == 0


def test_digits_returns_fresh_copies():
    X, y = load_digits()
    X[:] = -1
    y[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0 and y2.min() == 0


def test_digits_file_is_packaged():
    import tomllib

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    assert "datasets/*" in config["tool"]["setuptools"]["package-data"]["tinygrad_ce"]
    data = root / "tinygrad_ce" / "datasets"
    assert (data / "digits.csv.gz").stat().st_size < 100_000
    readme = (data / "README.md").read_text()
    assert "CC BY 4.0" in readme and "scikit-learn" in readme


# ---------------------------------------------------------------- IDX files

_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}


def write_idx(path: Path, array: np.ndarray, compress: bool = False, code: int | None = None):
    """Write an IDX file by hand (independent of the reader under test)."""
    if code is None:
        code = _CODES[array.dtype.type]
    header = struct.pack(">I", (code << 8) | array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    raw = header + body
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32])
def test_read_idx_round_trip(tmp_path, compress, dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((5, 3, 4)) * 50).astype(dtype)
    path = write_idx(tmp_path / "a.idx", a, compress)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_read_idx_gzip_detected_by_content(tmp_path):
    a = np.arange(6, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "plain.gz", a)), a)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "noext", a, True)), a)


def test_read_idx_errors(tmp_path):
    a = np.zeros((2, 3), np.uint8)
    raw = write_idx(tmp_path / "good", a).read_bytes()

    def bad(name, data):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    with pytest.raises(ValueError, match="too short"):
        read_idx(bad("short", b"\x00\x00"))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad("magic", b"\x01\x02" + raw[2:]))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad("code", b"\x00\x00\x07\x02" + raw[4:]))
    with pytest.raises(ValueError, match="truncated header"):
        read_idx(bad("header", raw[:6]))
    with pytest.raises(ValueError, match=r"truncated.*needs 6 bytes.*found 4"):
        read_idx(bad("body", raw[:-2]))
    with pytest.raises(ValueError, match="extra bytes"):
        read_idx(bad("long", raw + b"\x00"))
    with pytest.raises(ValueError, match="gzip"):
        read_idx(bad("badgz", gzip.compress(raw)[:-6]))
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing")


def make_mnist(folder: Path, kind="train", n=5, compress=False, labels_n=None, dot=False):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, labels_n or n, dtype=np.uint8)
    sep = "." if dot else "-"
    gz = ".gz" if compress else ""
    write_idx(folder / f"{kind}-images{sep}idx3-ubyte{gz}", images, compress)
    write_idx(folder / f"{kind}-labels{sep}idx1-ubyte{gz}", labels, compress)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("kind, prefix", [("train", "train"), ("test", "t10k"), ("t10k", "t10k")])
def test_load_mnist(tmp_path, compress, kind, prefix):
    images, labels = make_mnist(tmp_path, prefix, compress=compress)
    X, y = load_mnist(tmp_path, kind)
    assert X.shape == (5, 784) and X.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64
    np.testing.assert_array_equal(X, images.reshape(5, -1))
    np.testing.assert_array_equal(y, labels)
    X3, _ = load_mnist(str(tmp_path), kind, flatten=False)
    assert X3.shape == (5, 28, 28)


def test_load_mnist_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    make_mnist(tmp_path, "t10k", n=3)
    assert load_mnist("~", "test")[1].shape == (3,)


def test_load_mnist_dotted_names(tmp_path):
    make_mnist(tmp_path, dot=True)
    assert load_mnist(tmp_path)[0].shape == (5, 784)


def test_load_mnist_errors(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        load_mnist(tmp_path, "validation")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte, train-images-idx3"):
        load_mnist(tmp_path)
    make_mnist(tmp_path, labels_n=4)
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_mnist(tmp_path, "test")


def test_load_mnist_wrong_magic(tmp_path):
    # images and labels swapped
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros(3, np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"0x00000801 \(2049\), expected 0x00000803"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="labels-idx1-ubyte: magic number 0x00000803"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 2, 2), np.int32))
    with pytest.raises(ValueError, match="0x00000c03"):
        load_mnist(tmp_path)


def test_load_mnist_truncated(tmp_path):
    make_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(tmp_path)


# ---------------------------------------------------------------- DataLoader


def test_dataloader_batches_in_order():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    loader = DataLoader(X, y, batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), X)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in batches]), y)
    assert all(isinstance(xb, np.ndarray) and xb.dtype == np.float32 for xb, _ in batches)


def test_dataloader_drop_last():
    loader = DataLoader(np.zeros((10, 2)), np.zeros(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(yb) for _, yb in loader] == [4, 4]
    assert len(DataLoader(np.zeros((8, 1)), np.zeros(8), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(np.zeros((3, 1)), np.zeros(3), batch_size=4, drop_last=True)) == 0
    assert len(DataLoader(np.zeros((3, 1)), np.zeros(3), batch_size=4)) == 1


def test_dataloader_shuffle_is_a_permutation_and_reshuffles_each_epoch():
    X = np.arange(50, dtype=np.float32)[:, None]
    y = np.arange(50)
    loader = DataLoader(X, y, batch_size=8, shuffle=True, seed=0)
    epochs = [np.concatenate([yb for _, yb in loader]) for _ in range(3)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), y)
        assert not np.array_equal(order, y)
    assert not np.array_equal(epochs[0], epochs[1])
    for xb, yb in loader:  # rows stay paired
        np.testing.assert_array_equal(xb[:, 0], yb)
    # same seed -> same sequence of epochs
    again = DataLoader(X, y, batch_size=8, shuffle=True, seed=0)
    for order in epochs:
        np.testing.assert_array_equal(np.concatenate([yb for _, yb in again]), order)


def test_dataloader_batches_are_copies_and_tensors_accepted():
    X = np.zeros((4, 2), np.float32)
    xb, _ = next(iter(DataLoader(X, np.zeros(4), batch_size=2)))
    xb[:] = 5
    assert X.max() == 0
    loader = DataLoader(Tensor(np.ones((3, 2))), Tensor(np.arange(3)), batch_size=2)
    xb, yb = next(iter(loader))
    assert isinstance(xb, np.ndarray) and xb.shape == (2, 2)


def test_dataloader_errors():
    with pytest.raises(ValueError, match=r"same number of rows.*\(5, 2\).*\(4,\)"):
        DataLoader(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size=2.0)
    assert "batches=3" in repr(DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size=2))


# ---------------------------------------------------------------- split, scaling, one-hot


def test_train_test_split_partitions_the_rows():
    X = np.arange(100, dtype=np.float32)[:, None]
    y = np.arange(100) % 3
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=1)
    assert X_tr.shape == (75, 1) and X_te.shape == (25, 1)
    np.testing.assert_array_equal(np.sort(np.concatenate([X_tr, X_te])[:, 0]), X[:, 0])
    np.testing.assert_array_equal(y_tr, X_tr[:, 0].astype(int) % 3)  # pairs kept
    again = train_test_split(X, y, test_size=0.25, seed=1)
    np.testing.assert_array_equal(again[1], X_te)
    assert not np.array_equal(train_test_split(X, y, test_size=0.25, seed=2)[1], X_te)
    assert train_test_split(X, y, test_size=10)[1].shape == (10, 1)


def test_train_test_split_stratified():
    y = np.array([0] * 80 + [1] * 20)
    X = np.arange(100)[:, None]
    _, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    np.testing.assert_array_equal(np.bincount(y_te), [16, 4])
    np.testing.assert_array_equal(np.bincount(y_tr), [64, 16])
    np.testing.assert_array_equal(y_te, (X_te[:, 0] >= 80).astype(int))
    assert len(np.unique(y_te[:8])) > 1 or len(y_te) < 8  # shuffled, not grouped by class


@pytest.mark.parametrize("test_size", [0.0, 1.0, 0, 100, -0.1, "0.2", 0.001])
def test_train_test_split_bad_sizes(test_size):
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.zeros((100, 2)), np.zeros(100), test_size=test_size)


def test_train_test_split_stratify_needs_labels():
    with pytest.raises(ValueError, match="1-D class labels"):
        train_test_split(np.zeros((10, 2)), np.zeros((10, 2)), stratify=True)


def test_standardizer():
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((200, 3)) * [1, 5, 0] + [3, -2, 7]).astype(np.float32)
    s = Standardizer()
    Z = s.fit_transform(X)
    assert Z.dtype == np.float32 and Z.shape == X.shape
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(0), [1, 1, 0], atol=1e-5)  # constant column: 0, not nan
    assert s.std[2] == 1.0 and s.mean[2] == pytest.approx(7)
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s.transform(X[:5]), Z[:5])
    assert s.transform(np.ones((2, 3), dtype=np.int64)).dtype == np.float32
    assert s.transform(X.astype(np.float64)).dtype == np.float64


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(np.zeros((2, 2)))
    s = Standardizer().fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"fitted on rows of shape \(3,\).*\(4, 2\)"):
        s.transform(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="empty"):
        Standardizer().fit(np.zeros((0, 3)))
    assert "unfitted" in repr(Standardizer()) and "(3,)" in repr(s)


def test_standardize_uses_train_statistics():
    train = np.array([[0.0], [2.0]], dtype=np.float32)
    test = np.array([[4.0]], dtype=np.float32)
    a, b = standardize(train, test)
    np.testing.assert_allclose(a[:, 0], [-1, 1])
    np.testing.assert_allclose(b[:, 0], [3])


def test_one_hot():
    out = one_hot(np.array([2, 0, 1, 2]), 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.float32)[[2, 0, 1, 2]])
    assert one_hot(np.array([], dtype=np.int64), 4).shape == (0, 4)
    np.testing.assert_array_equal(one_hot([1.0, 0.0], 2), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"labels must be in 0..2, got min 0, max 3"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="labels must be in"):
        one_hot([-1], 3)
    with pytest.raises(TypeError, match="integer class labels"):
        one_hot([0.5], 3)
    with pytest.raises(ValueError, match="1-D"):
        one_hot(np.zeros((2, 2), int), 3)


# ---------------------------------------------------------------- registry


def test_registry():
    assert set(DATASETS) == {"spiral", "moons", "circles", "blobs", "xor", "digits", "mnist5k",
                             "mnist", "fashion-mnist"}  # fmt: skip
    for name, info in DATASETS.items():
        assert isinstance(info, DatasetInfo) and info.name == name and info.description
        if info.needs_data_dir:
            continue  # tests/test_vision_data.py writes IDX files for these
        X, y = load_dataset(name, seed=1)
        assert X.shape[1] == info.n_features and X.dtype == np.float32 and y.dtype == np.int64
        assert info.is_2d == (X.shape[1] == 2)
        assert len(np.unique(y)) == info.n_classes
    assert not DATASETS["digits"].is_2d and DATASETS["spiral"].is_2d


def test_load_dataset_matches_generators_and_forwards_options():
    np.testing.assert_array_equal(load_dataset("moons", seed=5)[0], moons(seed=5)[0])
    X, _ = load_dataset("moons", seed=5, noise=0.0)
    np.testing.assert_array_equal(X, moons(seed=5, noise=0.0)[0])
    X, y = DATASETS["spiral"](seed=2, classes=4)
    assert len(np.unique(y)) == 4


def test_load_dataset_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="unknown data set 'cifar'; choose one of: spiral, moons"):
        load_dataset("cifar")
