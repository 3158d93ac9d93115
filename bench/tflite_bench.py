"""Benchmark of a pushed version: SavedModel vs float32 TFLite vs int8 TFLite.

    python bench/tflite_bench.py VERSION_DIR [--runs 1000] [--split eval]

Prints, per format: file size, accuracy on the eval split the pipeline held out (read from the
Examples artifact named in the version's model_card.json), single-image latency (median of
--runs invocations on 1 thread) and images per second at batch 1. Not a test: it asserts
nothing, it measures.
"""

import argparse
import json
import os
import sys

import numpy as np


def _saved_model_bench(path, pixels, labels, runs):
    """(accuracy, latency) of the SavedModel (a version folder)."""
    from image_tfx.model import features
    import tensorflow as tf
    from image_tfx.model import tflite
    from image_tfx.model.export import CLASS_IDS_KEY, IMAGES_SIGNATURE
    serve = tf.saved_model.load(path).signatures[IMAGES_SIGNATURE]
    images = features.as_images_input(pixels, pixels.shape[1:])
    classes = np.concatenate([serve(images=tf.constant(images[i:i + 512]))[CLASS_IDS_KEY].numpy()
                              for i in range(0, len(images), 512)])
    one = tf.constant(images[:1])
    latency = tflite.median_seconds(lambda: serve(images=one), runs)
    return float(np.mean(classes == labels)), latency


def _tflite_bench(path, pixels, labels, runs):
    from image_tfx.model import tflite
    model = tflite.TFLiteClassifier(path, num_threads=1)
    model_input = tflite.pixels_to_model_input(pixels, model.input_shape)
    classes = np.argmax(model.predict(model_input), axis=-1)
    accuracy = float(np.mean(classes == labels))
    return os.path.getsize(path), accuracy, model.latency(model_input, runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('version_dir')
    parser.add_argument('--runs', type=int, default=1000)
    parser.add_argument('--split', default='eval')
    args = parser.parse_args(argv)

    from image_tfx.components.artifacts import read_examples
    from tfx.types import standard_artifacts
    from image_tfx.components import pushed_layout
    extra = lambda name: pushed_layout.extra(args.version_dir, name)  # noqa: E731
    with open(extra(pushed_layout.MODEL_CARD_FILE)) as f:
        card = json.load(f)
    examples = standard_artifacts.Examples()
    examples.uri = card['data']['examples_uri']
    examples.split_names = json.dumps(list(card['data']['examples_per_split']))
    from image_tfx.components.artifacts import IMAGE_SPEC_PROPERTY
    from image_tfx.data.sources import ImageSpec
    image = card.get('image', {'height': 28, 'width': 28, 'channels': 1})  # older cards: digits
    examples.set_string_custom_property(IMAGE_SPEC_PROPERTY, ImageSpec(
        image['height'], image['width'], image['channels'], tuple(card['classes'])).to_json())
    _, pixels, labels = read_examples(examples, args.split)

    rows = [('SavedModel', card['formats']['saved_model']['bytes'],
             *_saved_model_bench(args.version_dir, pixels, labels, args.runs))]
    for name, file in (('float32 TFLite', 'model_float32.tflite'),
                       ('int8 TFLite', 'model_int8.tflite')):
        rows.append((name, *_tflite_bench(extra(file), pixels, labels, args.runs)))
    print(f'{len(labels)} {args.split} images, latency = median of {args.runs} single-image '
          'runs, 1 thread')
    print(f'{"format":<16}{"size":>12}{"accuracy":>10}{"latency ms":>12}{"images/s":>10}')
    for name, size, accuracy, latency in rows:
        print(f'{name:<16}{size / 1024:>9.1f} KB{accuracy:>10.4f}{latency * 1e3:>12.4f}'
              f'{1 / latency:>10.0f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
