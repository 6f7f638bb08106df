"""MNIST IDX reading (magic numbers, clear errors naming the file) and translated MNIST."""

import gzip

import numpy as np
import pytest

from rnnkit.data.errors import DataError
from rnnkit.data.mnist import FILES, load_mnist, read_idx, translate, write_idx


def write_mnist(folder, n_train=12, n_test=5, seed=0):
    """Tiny synthetic MNIST in the standard file layout; returns the train arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / FILES[split][0], images)
        write_idx(folder / FILES[split][1], labels)
        out[split] = images, labels
    return out


def test_round_trip(tmp_path):
    written = write_mnist(tmp_path, n_train=7, n_test=3)
    for split in ("train", "test"):
        images, labels = load_mnist(tmp_path, split)
        assert images.dtype == np.uint8 and images.shape == written[split][0].shape
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(images, written[split][0])
        np.testing.assert_array_equal(labels, written[split][1])


def test_missing_file_and_folder_are_named(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / FILES["test"][1]).unlink()
    load_mnist(tmp_path, "train")  # the train files are still fine
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: no such file"):
        load_mnist(tmp_path, "test")
    with pytest.raises(DataError, match="no such folder"):
        load_mnist(tmp_path / "nowhere")


def test_wrong_magic_truncated_and_not_gzip(tmp_path):
    write_mnist(tmp_path)
    images, labels = (tmp_path / name for name in FILES["train"])
    with pytest.raises(DataError, match=r"labels.*magic number 2051.*got 2049"):
        read_idx(labels, 3)  # a label file where images are expected
    raw = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DataError, match=r"train-images.*holds 9398"):
        load_mnist(tmp_path)
    images.write_bytes(b"not a gzip file at all")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is not a readable gzip"):
        load_mnist(tmp_path)


def test_image_and_label_counts_must_agree(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / FILES["train"][1], np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="12 images.*but 3 labels"):
        load_mnist(tmp_path)


def test_translate_is_deterministic_and_keeps_the_digit():
    rng = np.random.default_rng(1)
    images = rng.integers(1, 256, size=(50, 28, 28), dtype=np.uint8)  # no zero pixel
    a = translate(images, canvas=60, seed=3)
    assert a.shape == (50, 60, 60) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, translate(images, canvas=60, seed=3))
    assert not np.array_equal(a, translate(images, canvas=60, seed=4))
    for img, out in zip(images, a):
        ys, xs = np.nonzero(out)
        y0, x0 = ys.min(), xs.min()
        np.testing.assert_array_equal(out[y0 : y0 + 28, x0 : x0 + 28], img)
        assert out.astype(int).sum() == img.astype(int).sum()
    corners = {(np.nonzero(o)[0].min(), np.nonzero(o)[1].min()) for o in a}
    assert len(corners) > 40  # positions vary


def test_translate_rejects_bad_input():
    with pytest.raises(ValueError, match=r"expected images of shape \(N, H, W\)"):
        translate(np.zeros((28, 28), np.uint8))
    with pytest.raises(ValueError, match="canvas 20 is smaller"):
        translate(np.zeros((1, 28, 28), np.uint8), canvas=20)


def test_real_mnist_files(shared_data):
    folder = shared_data / "mnist"
    if not folder.is_dir():
        pytest.skip(f"MNIST not found at {folder}")
    images, labels = load_mnist(folder, "test")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0
