"""Classify images with a pushed model version, as a device would.

    python -m image_tfx.tools.predict VERSION_DIR image.png [more.png ...] \
        [--format int8|float32|savedmodel]
                                [--json]
    python -m image_tfx.tools.predict VERSION_DIR --video clip.mp4 | --camera 0 [--max-frames N]

VERSION_DIR is one pushed version (serving/<pipeline>/<version>/). Images may be PNG, JPEG,
TIFF, WebP or anything Pillow reads (upright as their EXIF orientation says, 16-bit scans scaled
to 8 bits as ExampleGen reads them), of any size and colour, or an IDX images file (each image
in it is classified). A model trained on MNIST-style arrays (its card says preparation "mnist")
gets them prepared the way MNIST itself was: grayscale, light strokes on a dark background
(inverted if the background is light), the background level removed and the contrast stretched
(a photo's paper is not black), the strokes fitted into a 20x20 box keeping their aspect ratio,
and centred by centre of mass in 28x28. Any other model gets the image resized to its own
height, width and channels with the function ExampleGen used on its training images.

Prints the class name and confidence per image (--json: one JSON object a line with `file`,
`class` and `confidence`) and the mean model latency; exits 2 with one line naming the file
when an input cannot be read. With --video or --camera (OpenCV) it classifies frame after frame
and prints, per frame, the class and the running frames per second, decoding and preparation
included; Ctrl-C (or the end of the video, or --max-frames) stops it with a summary line.
"""

import argparse
import json
import os
import sys
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

from image_tfx.data import object_store
from image_tfx.data import images as imaging
from image_tfx.model import features
from image_tfx.tools import cli

# OpenCV (and FFmpeg inside it) log their own warnings for a missing camera or an unreadable
# file, where one error line says it; read when cv2 is first imported, which TensorFlow's
# imports may do before ours. -8 is FFmpeg's AV_LOG_QUIET.
os.environ.setdefault('OPENCV_LOG_LEVEL', 'OFF')
os.environ.setdefault('OPENCV_FFMPEG_LOGLEVEL', '-8')

FORMATS = ('int8', 'float32', 'savedmodel')
_FILES = {'int8': 'model_int8.tflite', 'float32': 'model_float32.tflite'}
_BOX = 20  # MNIST fits each digit into 20x20 and centres it in 28x28
MNIST, RESIZE = features.PREPARE_MNIST, features.PREPARE_RESIZE
# Below this spread between paper and ink there is no stroke to stretch (a blank page).
_MIN_CONTRAST = 8.0


class InputError(ValueError):
    """An input file that cannot be classified; the message names it."""


def _quantile(values: np.ndarray, share: float) -> float:
    """The value below which `share` of the values lie (web/app.js computes it the same way)."""
    ordered = np.sort(np.asarray(values, np.float32).reshape(-1))
    return float(ordered[min(len(ordered) - 1, int(share * len(ordered)))])


def mnist_style(gray: np.ndarray, remove_background: bool = True) -> np.ndarray:
    """A grayscale image (any size, 0-255) as an MNIST-style uint8 [28, 28] image.

    remove_background=False skips taking the paper's level away (for bench/photo_bench.py's
    comparison).
    """
    gray = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if _quantile(border, 0.5) > 127.5:  # dark strokes on a light background: MNIST is the other way
        gray = 255.0 - gray
    # A photo's paper, inverted, is grey rather than black, and uneven: without taking its level
    # away the whole page passes for stroke and the crop is the whole picture.
    background, ink = _quantile(gray, 0.5), _quantile(gray, 0.99)
    if remove_background and ink - background > _MIN_CONTRAST:
        gray = np.clip((gray - background) * (255.0 / (ink - background)), 0, 255)
    side = features.DIGITS_SHAPE[0]
    mask = gray > 0.2 * gray.max() if gray.max() > 0 else np.zeros(gray.shape, bool)
    if not mask.any():
        return np.zeros((side, side), np.uint8)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    from PIL import Image
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


def prepare(image: np.ndarray, shape: Sequence[int], preparation: str) -> np.ndarray:
    """A decoded image (uint8 [H, W, 3] or [H, W]) as the model's input image [h, w, c]."""
    image = np.asarray(image)
    if preparation == MNIST:
        gray = imaging.to_shape(image, (*image.shape[:2], 1))[..., 0]
        return mnist_style(gray)[..., None]
    return imaging.to_shape(image, tuple(shape))


def read_images(path: str) -> List[Tuple[str, np.ndarray]]:
    """(name, uint8 [H, W, 3]) for an image file, or (name, [H, W]) per image of an IDX file."""
    if not os.path.isfile(path):
        raise InputError(f'{path}: no such file')
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        return [(path, imaging.decode(raw, imaging.RGB))]
    except imaging.ImageError as e:
        image_problem = str(e)
    from image_tfx.data import sources
    try:
        images = sources.read_idx(path, sources.IDX_IMAGES_MAGIC)
    except sources.DataError as e:
        if imaging.is_image_name(path):
            raise InputError(f'{path}: {image_problem}') from None
        raise InputError(f'{path}: not an image (PNG, JPEG, ...) nor an IDX images file '
                         f'({e.problem})') from None
    return [(f'{path}#{i}', image) for i, image in enumerate(images)]


class Model:
    """One format of a pushed version: predict(image) -> probabilities [classes]."""

    def __init__(self, version_dir: str, fmt: str):
        from image_tfx.components import pushed_layout
        if fmt == 'savedmodel':
            path = version_dir  # a version folder is the SavedModel
            required = os.path.join(version_dir, 'saved_model.pb')
        else:
            path = required = pushed_layout.extra(version_dir, _FILES[fmt])
        if not _exists(required):
            raise InputError(f'{required}: missing; is {version_dir} a pushed model version?')
        self.format = fmt
        if fmt == 'savedmodel':
            import tensorflow as tf
            from image_tfx.model.export import IMAGES_INPUT, IMAGES_SIGNATURE
            self._tf = tf
            self._serve = tf.saved_model.load(path).signatures[IMAGES_SIGNATURE]
            dims = self._serve.structured_input_signature[1][IMAGES_INPUT].shape[1:]
            self.shape = tuple(dims) if len(dims) == 3 else (*dims, 1)
        else:
            from image_tfx.model import tflite
            self._tflite = tflite
            self._model = tflite.TFLiteClassifier(path)
            self.shape = self._model.input_shape
        card = _model_card(version_dir)
        self.preparation = card.get('preparation') or (
            MNIST if tuple(self.shape) == features.DIGITS_SHAPE else RESIZE)
        self.class_names = _class_names(version_dir)

    def name(self, label: int) -> str:
        """A class's name (labels.txt), or its number when the version has no labels file."""
        return self.class_names[label] if self.class_names else str(label)

    def predict(self, image: np.ndarray) -> Tuple[np.ndarray, float]:
        """(probabilities, seconds the model took) for one prepared image [H, W, C]."""
        if self.format == 'savedmodel':
            batch = self._tf.constant(features.as_images_input(image, self.shape))
            start = time.perf_counter()
            probabilities = self._serve(images=batch)['probabilities'].numpy()[0]
            return probabilities, time.perf_counter() - start
        tensor = self._model.quantize(self._tflite.pixels_to_model_input(image, self.shape))
        start = time.perf_counter()
        raw = self._model.invoke(tensor)
        elapsed = time.perf_counter() - start
        return self._model.dequantize(raw)[0], elapsed


def _exists(path: str) -> bool:
    """Whether a file exists, locally or in object storage (a version pushed to s3://)."""
    if not object_store.is_remote(path):
        return os.path.exists(path)
    from image_tfx.components import storage
    return storage.exists(path)


def _model_card(version_dir: str) -> dict:
    from image_tfx.components import pushed_layout
    return pushed_layout.read_card(version_dir) or {}


def _class_names(version_dir: str) -> Optional[List[str]]:
    from image_tfx.components import pushed_layout
    from image_tfx.components import storage
    path = pushed_layout.extra(version_dir, pushed_layout.LABELS_FILE)
    if not _exists(path):
        return None  # the class numbers then
    return [line.strip() for line in storage.read_text(path).splitlines() if line.strip()]


def _frames(args):
    """(name, capture) for --video FILE or --camera N; InputError when OpenCV cannot open it."""
    import cv2
    if args.video is not None:
        if not os.path.isfile(args.video):
            raise InputError(f'{args.video}: no such file')
        name, capture = args.video, cv2.VideoCapture(args.video)
    else:
        name, capture = f'camera {args.camera}', cv2.VideoCapture(args.camera)
    if not capture.isOpened():
        raise InputError(f'{name}: cannot be opened as a video (OpenCV reads the usual formats '
                         'and cameras /dev/videoN)')
    ok, frame = capture.read()
    if not ok:
        capture.release()
        raise InputError(f'{name}: no frame could be read (not a video, or an empty one)')
    return name, capture, frame


def classify_stream(model: 'Model', capture, first_frame, name: str, as_json: bool,
                    max_frames: Optional[int] = None, stream=sys.stdout) -> int:
    """Classifies frames until the stream ends, max_frames, or Ctrl-C; returns frames done."""
    frames, frame, start = 0, first_frame, time.perf_counter()
    try:
        while frame is not None and (max_frames is None or frames < max_frames):
            image = prepare(frame[..., ::-1], model.shape, model.preparation)  # BGR -> RGB
            probabilities, _ = model.predict(image)
            frames += 1
            fps = frames / (time.perf_counter() - start)
            best = int(np.argmax(probabilities))
            label = model.name(best)
            if as_json:
                print(json.dumps({'file': name, 'frame': frames, 'class': label,
                                  'confidence': round(float(probabilities[best]), 6),
                                  'fps': round(fps, 1)}), file=stream, flush=True)
            else:
                print(f'frame {frames}: {label} (confidence {probabilities[best]:.3f}), '
                      f'{fps:.1f} frames/s', file=stream, flush=True)
            ok, frame = capture.read()
            frame = frame if ok else None
    except KeyboardInterrupt:
        pass
    finally:
        capture.release()
    seconds = time.perf_counter() - start
    print(f'{frames} frames in {seconds:.2f} s: {frames / max(seconds, 1e-9):.1f} frames/s '
          f'({model.format}, decoding and preparation included)',
          file=sys.stderr if as_json else stream)
    return frames


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m image_tfx.tools.predict', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('version_dir', help='a pushed version: serving/<pipeline>/<version>')
    parser.add_argument('images', nargs='*', help='PNG/JPEG/... files or IDX images files')
    parser.add_argument('--video', metavar='FILE', help='classify the frames of a video file')
    parser.add_argument('--camera', type=int, metavar='N',
                        help='classify frames from camera N (/dev/videoN) until Ctrl-C')
    parser.add_argument('--max-frames', type=int, metavar='N',
                        help='with --video/--camera: stop after N frames')
    parser.add_argument('--format', choices=FORMATS, default='int8',
                        help='which model to run (default: %(default)s)')
    parser.add_argument('--json', action='store_true',
                        help='one JSON object a line: {"file", "class", "confidence"}; the '
                        'latency line goes to stderr')
    parser.add_argument('--verbose', action='store_true',
                        help="show TensorFlow's own start-up lines and library warnings")
    # Options anywhere among the files: `predict VERSION --json a.png b.png` as well.
    args = parser.parse_intermixed_args(argv)
    cli.quiet(args.verbose)
    sources_given = bool(args.images) + (args.video is not None) + (args.camera is not None)
    if sources_given != 1:
        parser.error('give image files, or --video FILE, or --camera N (one of them)')
    if object_store.is_remote(args.version_dir):
        problem = object_store.prepare(args.version_dir)
        if problem:
            print(f'error: {problem}', file=sys.stderr)
            return 2
    try:
        # Files and videos are opened before the model loads (and TensorFlow with it): a bad
        # one is then the only line on stderr.
        decoded = [item for path in args.images for item in read_images(path)]
        stream = None if args.images else _frames(args)
        model = Model(args.version_dir, args.format)
        if stream is not None:
            name, capture, first = stream
            classify_stream(model, capture, first, name, args.json, args.max_frames)
            return 0
        inputs = [(name, prepare(image, model.shape, model.preparation))
                  for name, image in decoded]
    except InputError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    times = []
    for name, image in inputs:
        probabilities, seconds = model.predict(image)
        times.append(seconds)
        best = int(np.argmax(probabilities))
        label = model.name(best)
        if args.json:
            print(json.dumps({'file': name, 'class': label,
                              'confidence': round(float(probabilities[best]), 6)}))
        else:
            print(f'{name}: {label} (confidence {probabilities[best]:.3f})')
    print(f'mean latency: {1e3 * np.mean(times):.3f} ms per image '
          f'({args.format}, {len(times)} image{"s" if len(times) != 1 else ""})',
          file=sys.stderr if args.json else sys.stdout)
    return 0


def run_command() -> None:
    """main, then the process ends through exit_now (also the console script's entry)."""
    object_store.exit_now(main())


if __name__ == '__main__':
    run_command()
