"""Data for the examples: generated 2-D problems, the bundled digits, MNIST files, batching.

- generated, seeded, ``(X float32 (N, 2), y int64 (N,))``: ``spiral``, ``moons``, ``circles``,
  ``blobs``, ``xor``;
- from files: ``load_digits`` (bundled, 1,797 8x8 images), ``load_mnist_sample`` (bundled,
  5,000 28x28 MNIST digits), ``load_mnist`` / ``read_idx`` (IDX files in a folder you give;
  nothing is downloaded); ``images=True`` gives ``(N, 1, H, W)`` arrays for a CNN;
- by name: ``DATASETS`` (name -> ``DatasetInfo``) and ``load_dataset(name, seed)``;
- text (kind "text"): ``CORPORA`` / ``load_corpus`` (CPython's bundled documentation, or a
  UTF-8 file), ``CharTokenizer``, ``WordTokenizer``, ``split_ids``, ``sample_windows``
  (random windows of ``block_size + 1`` tokens), ``BigramModel`` (the baseline);
- preparing: ``train_test_split``, ``Standardizer`` / ``standardize``, ``one_hot``,
  ``DataLoader`` (yields numpy batches).
"""

from .batching import DataLoader, Standardizer, one_hot, standardize, train_test_split
from .files import load_digits, load_mnist, load_mnist_sample, read_idx
from .registry import DATASETS, DatasetInfo, load_dataset
from .synthetic import blobs, circles, moons, spiral, xor
from .text import (
    CORPORA,
    BigramModel,
    CharTokenizer,
    CorpusInfo,
    WordTokenizer,
    bigram_baseline,
    load_corpus,
    load_pydoc_text,
    read_text,
    sample_windows,
    split_ids,
)

__all__ = [
    "CORPORA",
    "BigramModel",
    "CharTokenizer",
    "CorpusInfo",
    "WordTokenizer",
    "bigram_baseline",
    "load_corpus",
    "load_pydoc_text",
    "read_text",
    "sample_windows",
    "split_ids",
    "DATASETS",
    "DataLoader",
    "DatasetInfo",
    "Standardizer",
    "blobs",
    "circles",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_mnist_sample",
    "moons",
    "one_hot",
    "read_idx",
    "spiral",
    "standardize",
    "train_test_split",
    "xor",
]
