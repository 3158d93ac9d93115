"""SavedModel -> TensorFlow.js graph model (the `serving_images` signature: raw 28x28 pixels)."""

import os

from mnist_tfx.model import export

MODEL_FILE = 'model.json'


class ConversionError(RuntimeError):
    """The converter refused the SavedModel; the message says why."""


def convert(saved_model_dir: str, local_dir: str) -> int:
    """Writes model.json and its weight shards to the local folder `local_dir` (the converter
    writes to local disk only); returns their total bytes."""
    # The converter imports JAX and TF Decision Forests at import time: only when converting.
    from tensorflowjs.converters import tf_saved_model_conversion_v2  # pylint: disable=g-import-not-at-top
    try:
        tf_saved_model_conversion_v2.convert_tf_saved_model(
            saved_model_dir, local_dir, signature_def=export.IMAGES_SIGNATURE,
            saved_model_tags='serve')
    except (ValueError, KeyError) as e:
        raise ConversionError(f'{saved_model_dir}: TF.js conversion failed ({e})') from e
    return sum(os.path.getsize(os.path.join(local_dir, name)) for name in os.listdir(local_dir))
