"""Converts the bare CNN (Keras `model.export()` output) to float32 and full-integer TFLite.

Run as a separate process by the TFLiteExporter executor, on local folders:

    python -m image_tfx.components.tflite_exporter.convert SAVED_MODEL REPRESENTATIVE.npy OUT_DIR

The TFLite converter can abort the whole process (`LLVM ERROR: ...`) instead of raising, so
the executor runs this in a child process and turns a crash into a failed component with the
converter's own last words.
"""

import os
import sys

import numpy as np
import tensorflow as tf

from image_tfx.components.artifacts import FLOAT32_FILE, INT8_FILE  # noqa: F401  (used here)


def convert_float32(saved_model_dir: str) -> bytes:
    """Float32 TFLite model, same input and output as the CNN."""
    return tf.lite.TFLiteConverter.from_saved_model(saved_model_dir).convert()


def convert_int8(saved_model_dir: str, representative: np.ndarray) -> bytes:
    """Full-integer model: int8 weights and activations, uint8 input and output.

    `representative` holds images as the CNN sees them (after Transform, [n, 28, 28, 1] in
    [0, 1]); they fix the activation ranges, and so the input's scale (1/255: a uint8 input
    value is the raw pixel).
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([image[None, ...]] for image in representative)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    return converter.convert()


def _write(path: str, content: bytes) -> None:
    with open(path + '.partial', 'wb') as f:
        f.write(content)
    os.replace(path + '.partial', path)


def main(argv) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    saved_model_dir, representative_file, out_dir = argv[1:]
    representative = np.load(representative_file).astype(np.float32)
    os.makedirs(out_dir, exist_ok=True)
    _write(os.path.join(out_dir, FLOAT32_FILE), convert_float32(saved_model_dir))
    _write(os.path.join(out_dir, INT8_FILE), convert_int8(saved_model_dir, representative))
    return 0


if __name__ == '__main__':
    from image_tfx.data import object_store
    object_store.exit_now(main(sys.argv))
