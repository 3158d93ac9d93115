"""The serving SavedModel: Transform graph + CNN behind two signatures.

* `serving_default`: serialized tf.Examples (`examples`, a string batch) with the raw `pixels`
  feature, as TF Serving's predict API and TFMA send them;
* `serving_images`: a raw image batch (`images`, uint8 [batch, 28, 28], values 0-255).

Both apply the same Transform graph before the model, and both return `probabilities`
[batch, 10] and `class_ids` [batch].
"""

import tensorflow as tf
import tensorflow_transform as tft

from mnist_tfx.model import features

PREDICTION_KEY = 'probabilities'
CLASS_IDS_KEY = 'class_ids'
IMAGES_SIGNATURE = 'serving_images'


def save_serving_model(model, tf_transform_output: tft.TFTransformOutput, path: str) -> None:
    """Writes the SavedModel with both signatures to `path`."""
    module = tf.Module()
    module.model = model
    module.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = {key: spec for key, spec in tf_transform_output.raw_feature_spec().items()
                if key != features.LABEL_KEY}

    def predict(raw_features):
        transformed = module.tft_layer(raw_features)
        images = tf.reshape(transformed[features.transformed_name(features.PIXELS_KEY)],
                            [-1, features.IMAGE_SIDE, features.IMAGE_SIDE, 1])
        probabilities = module.model(images, training=False)
        return {PREDICTION_KEY: probabilities, CLASS_IDS_KEY: tf.argmax(probabilities, axis=-1)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
    def serve_examples(serialized):
        return predict(tf.io.parse_example(serialized, raw_spec))

    @tf.function(input_signature=[
        tf.TensorSpec([None, features.IMAGE_SIDE, features.IMAGE_SIDE], tf.uint8, name='images')])
    def serve_images(images):
        pixels = tf.cast(tf.reshape(images, [-1, features.NUM_PIXELS]), tf.int64)
        return predict({features.PIXELS_KEY: pixels})

    tf.saved_model.save(module, path, signatures={
        'serving_default': serve_examples.get_concrete_function(),
        IMAGES_SIGNATURE: serve_images.get_concrete_function(),
    })
