"""MNIST from the standard IDX gzip files, and translated MNIST (Mnih et al. 2014).

Replaces the original example's ``dp.Mnist`` and ``dp.TranslatedMnist`` (which downloaded
the data); here the four files are read from a folder and nothing is downloaded. Images are
``(N, 28, 28)`` uint8, labels ``(N,)`` int64 in 0..9.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from .errors import DataError

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_MAGIC = {3: 2051, 1: 2049}  # 0x00000803 images, 0x00000801 labels (unsigned bytes)


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """Read one gzip-compressed IDX file of unsigned bytes with ``ndim`` dimensions.

    Raises :class:`DataError` naming the file when it is missing, not gzip, has a wrong
    magic number (e.g. a label file where images are expected) or is truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"MNIST file {path}: no such file")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"MNIST file {path} is not a readable gzip file ({e})") from None
    header = 4 * (ndim + 1)
    if len(raw) < header:
        raise DataError(f"MNIST file {path} is too short for an IDX header ({len(raw)} bytes)")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != _MAGIC[ndim]:
        raise DataError(
            f"MNIST file {path}: expected IDX magic number {_MAGIC[ndim]} "
            f"({ndim}-d unsigned bytes), got {magic}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise DataError(
            f"MNIST file {path}: header says shape {tuple(shape)} ({size} bytes of data), "
            f"but the file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array of 1 or 3 dimensions as a gzip IDX file (e.g. a subset of MNIST)."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or array.ndim not in _MAGIC:
        raise ValueError(
            f"write_idx: expected a uint8 array of 1 or 3 dimensions, got {array.dtype} {array.shape}"
        )
    path = Path(path)
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(f">I{array.ndim}I", _MAGIC[array.ndim], *array.shape))
        f.write(array.tobytes())
    return path


def load_mnist(data_dir: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 28, 28) uint8, labels (N,) int64)`` of the ``train`` or ``test`` split.

    ``data_dir`` holds the standard files ``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
    ``t10k-labels-idx1-ubyte.gz``.
    """
    if split not in FILES:
        raise ValueError(f"load_mnist: expected split 'train' or 'test', got {split!r}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"MNIST folder {data_dir}: no such folder")
    image_file, label_file = (data_dir / name for name in FILES[split])
    images = read_idx(image_file, 3)
    labels = read_idx(label_file, 1).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(
            f"MNIST {split} split in {data_dir}: {len(images)} images in {image_file.name} "
            f"but {len(labels)} labels in {label_file.name}"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"MNIST file {label_file}: labels must be 0..9, found {labels.max()}")
    return images, labels


def translate(images: np.ndarray, canvas: int = 60, seed: int = 0) -> np.ndarray:
    """Place each image at a random position of a zero ``canvas × canvas`` image (translated MNIST).

    The positions are uniform over all placements that keep the digit inside the canvas
    and depend only on ``seed`` (and ``N``), so the same call always gives the same data.

    Shape:
        ``(N, H, W)`` → ``(N, canvas, canvas)``, same dtype.

    Example:
        >>> translate(np.ones((2, 28, 28), np.uint8), canvas=60, seed=0).shape
        (2, 60, 60)
    """
    if images.ndim != 3:
        raise ValueError(f"translate: expected images of shape (N, H, W), got {images.shape}")
    n, h, w = images.shape
    if canvas < max(h, w):
        raise ValueError(f"translate: canvas {canvas} is smaller than the images ({h}×{w})")
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, canvas - h + 1, size=n)
    xs = rng.integers(0, canvas - w + 1, size=n)
    out = np.zeros((n, canvas, canvas), dtype=images.dtype)
    for i in range(n):
        out[i, ys[i] : ys[i] + h, xs[i] : xs[i] + w] = images[i]
    return out
