"""Classify images with a pushed model version, as a device would.

    python -m mnist_tfx.predict VERSION_DIR image.png [more.png ...] [--format int8|float32|savedmodel]

VERSION_DIR is one pushed version (serving/<pipeline>/<version>/). Images may be PNG, JPEG or
anything Pillow reads, of any size and colour, or an IDX images file (each image in it is
classified). They are prepared the way MNIST itself was: grayscale, light strokes on a dark
background (inverted if the background is light), the strokes fitted into a 20x20 box keeping
their aspect ratio, and centred by centre of mass in 28x28. Prints the class and confidence per
image and the mean model latency; exits 2 with one line naming the file when an input cannot be
read.
"""

import argparse
import os
import sys
import time
from typing import List, Tuple

import numpy as np

from mnist_tfx.components import object_store
from mnist_tfx.model import features

FORMATS = ('int8', 'float32', 'savedmodel')
_FILES = {'int8': 'model_int8.tflite', 'float32': 'model_float32.tflite'}
_BOX = 20  # MNIST fits each digit into 20x20 and centres it in 28x28


class InputError(ValueError):
    """An input file that cannot be classified; the message names it."""


def mnist_style(gray: np.ndarray) -> np.ndarray:
    """A grayscale image (any size, 0-255) as an MNIST-style uint8 [28, 28] image."""
    gray = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() > 127.5:  # dark strokes on a light background: MNIST is the other way
        gray = 255.0 - gray
    side = features.IMAGE_SIDE
    mask = gray > 0.2 * gray.max() if gray.max() > 0 else np.zeros(gray.shape, bool)
    if not mask.any():
        return np.zeros((side, side), np.uint8)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    from PIL import Image  # pylint: disable=g-import-not-at-top
    scale = _BOX / max(crop.shape)
    height, width = (max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale)))
    patch = np.asarray(Image.fromarray(crop.astype(np.uint8)).resize(
        (width, height), Image.Resampling.LANCZOS), dtype=np.float32)
    total = patch.sum()
    cy, cx = ((np.arange(height) @ patch.sum(axis=1)) / total,
              (np.arange(width) @ patch.sum(axis=0)) / total) if total else (height / 2, width / 2)
    top = int(np.clip(round(side / 2 - cy), 0, side - height))
    left = int(np.clip(round(side / 2 - cx), 0, side - width))
    image = np.zeros((side, side), np.float32)
    image[top:top + height, left:left + width] = patch
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def load_images(path: str) -> List[Tuple[str, np.ndarray]]:
    """(name, uint8 [28, 28]) for an image file, or for each image of an IDX images file."""
    if not os.path.isfile(path):
        raise InputError(f'{path}: no such file')
    from PIL import Image, UnidentifiedImageError  # pylint: disable=g-import-not-at-top
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ('RGBA', 'LA', 'PA') or 'transparency' in img.info:
                # Transparent areas count as background: put the image on white.
                background = Image.new('RGBA', img.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, img.convert('RGBA'))
            return [(path, mnist_style(np.asarray(img.convert('L'))))]
    except UnidentifiedImageError:
        pass
    except (OSError, ValueError) as e:
        raise InputError(f'{path}: unreadable image ({e})') from None
    from mnist_tfx.data import sources  # pylint: disable=g-import-not-at-top
    try:
        images = sources.read_idx(path, sources.IDX_IMAGES_MAGIC)
    except sources.DataError as e:
        raise InputError(f'{path}: not an image (PNG, JPEG, ...) nor an IDX images file '
                         f'({e.problem})') from None
    return [(f'{path}#{i}', image) for i, image in enumerate(images)]


class Model:
    """One format of a pushed version: predict(uint8 [28, 28]) -> probabilities [10]."""

    def __init__(self, version_dir: str, fmt: str):
        from mnist_tfx.components import pushed_layout  # pylint: disable=g-import-not-at-top
        if fmt == 'savedmodel':
            path = version_dir  # a version folder is the SavedModel
            required = os.path.join(version_dir, 'saved_model.pb')
        else:
            path = required = pushed_layout.extra(version_dir, _FILES[fmt])
        if not _exists(required):
            raise InputError(f'{required}: missing; is {version_dir} a pushed model version?')
        self.format = fmt
        if fmt == 'savedmodel':
            import tensorflow as tf  # pylint: disable=g-import-not-at-top
            from mnist_tfx.model.export import IMAGES_SIGNATURE  # pylint: disable=g-import-not-at-top
            self._tf = tf
            self._serve = tf.saved_model.load(path).signatures[IMAGES_SIGNATURE]
        else:
            from mnist_tfx.model import tflite  # pylint: disable=g-import-not-at-top
            self._tflite = tflite
            self._model = tflite.TFLiteClassifier(path)

    def predict(self, image: np.ndarray) -> Tuple[np.ndarray, float]:
        """(probabilities, seconds the model took) for one MNIST-style image."""
        if self.format == 'savedmodel':
            batch = self._tf.constant(image[None, ...])
            start = time.perf_counter()
            probabilities = self._serve(images=batch)['probabilities'].numpy()[0]
            return probabilities, time.perf_counter() - start
        tensor = self._model.quantize(self._tflite.pixels_to_model_input(image))
        start = time.perf_counter()
        raw = self._model.invoke(tensor)
        elapsed = time.perf_counter() - start
        return self._model.dequantize(raw)[0], elapsed


def _exists(path: str) -> bool:
    """Whether a file exists, locally or in object storage (a version pushed to s3://)."""
    if not object_store.is_remote(path):
        return os.path.exists(path)
    from mnist_tfx.components import storage  # pylint: disable=g-import-not-at-top
    return storage.exists(path)


def _class_names(version_dir: str) -> List[str]:
    from mnist_tfx.components import pushed_layout  # pylint: disable=g-import-not-at-top
    from mnist_tfx.components import storage  # pylint: disable=g-import-not-at-top
    path = pushed_layout.extra(version_dir, pushed_layout.LABELS_FILE)
    if not _exists(path):
        return [str(i) for i in range(features.NUM_CLASSES)]
    return [line.strip() for line in storage.read_text(path).splitlines() if line.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m mnist_tfx.predict', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('version_dir', help='a pushed version: serving/<pipeline>/<version>')
    parser.add_argument('images', nargs='+', help='PNG/JPEG/... files or IDX images files')
    parser.add_argument('--format', choices=FORMATS, default='int8',
                        help='which model to run (default: %(default)s)')
    args = parser.parse_args(argv)
    if object_store.is_remote(args.version_dir):
        problem = object_store.prepare(args.version_dir)
        if problem:
            print(f'error: {problem}', file=sys.stderr)
            return 2
    try:
        inputs = [item for path in args.images for item in load_images(path)]
        model = Model(args.version_dir, args.format)
    except InputError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    names = _class_names(args.version_dir)
    times = []
    for name, image in inputs:
        probabilities, seconds = model.predict(image)
        times.append(seconds)
        best = int(np.argmax(probabilities))
        print(f'{name}: {names[best]} (confidence {probabilities[best]:.3f})')
    print(f'mean latency: {1e3 * np.mean(times):.3f} ms per image '
          f'({args.format}, {len(times)} image{"s" if len(times) != 1 else ""})')
    return 0


if __name__ == '__main__':
    object_store.exit_now(main())
