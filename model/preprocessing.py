"""tf.Transform preprocessing: pixels 0-255 become floats in [0, 1], in graph.

The Transform graph is part of the exported SavedModel, so a served request goes through this
exact function: no second copy of the scaling exists for serving to drift from.
"""

import tensorflow as tf

from image_tfx.model import features


def preprocessing_fn(inputs):
    """tf.Transform entry point: maps raw features to the model's features."""
    pixels = tf.cast(inputs[features.PIXELS_KEY], tf.float32) / float(features.MAX_PIXEL)
    outputs = {features.transformed_name(features.PIXELS_KEY): pixels}
    # The label is absent at serving time (schema environment SERVING).
    if features.LABEL_KEY in inputs:
        outputs[features.transformed_name(features.LABEL_KEY)] = inputs[features.LABEL_KEY]
    return outputs
