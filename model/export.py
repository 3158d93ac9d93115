"""The serving SavedModel: Transform graph + network behind two signatures.

* `serving_default`: serialized tf.Examples (`examples`, a string batch) with the raw `pixels`
  feature, as TF Serving's predict API and TFMA send them;
* `serving_images`: a raw image batch (`images`, uint8 [batch, H, W] for grayscale, as the
  digits' [batch, 28, 28], or [batch, H, W, 3] for colour; values 0-255).

Both apply the same Transform graph before the model, and both return `probabilities`
[batch, classes] and `class_ids` [batch].

Beside it, in the same Model artifact, the bare CNN is written with Keras's export archive
(KERAS_EXPORT_DIR), for the TFLite converter: it aborts the whole process on Keras 3 models
saved with `tf.saved_model.save(..., signatures=...)`, and converts Keras exports cleanly.
"""

import os

import tensorflow as tf
import tensorflow_transform as tft

from image_tfx.model import features

PREDICTION_KEY = 'probabilities'
CLASS_IDS_KEY = 'class_ids'
DEFAULT_SIGNATURE = 'serving_default'
IMAGES_SIGNATURE = 'serving_images'
EXAMPLES_INPUT = 'examples'
IMAGES_INPUT = 'images'
# What a client codes against: each signature's inputs and outputs (names, dtypes, shapes).
# A test compares every exported model with it, so a change to the interface is deliberate.
SIGNATURES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'signatures.json')
# Inside the Trainer's Model artifact, next to TFX's Format-Serving folder.
KERAS_EXPORT_DIR = 'Format-KerasExport'


def keras_export_path(model_uri: str) -> str:
    """Where the bare network (input: images [1, H, W, C] in [0, 1]) is in a Model artifact."""
    return os.path.join(model_uri, KERAS_EXPORT_DIR)


def save_keras_export(model, path: str, shape) -> None:
    """The bare network for TFLite conversion: one image [1, H, W, C] in [0, 1] per call.

    The batch size is fixed at 1, as on a device: with a dynamic batch dimension the TFLite
    interpreter's XNNPACK delegate leaves the model to slower kernels (0.078 vs 0.027 ms per
    image for the float32 model, measured on 2 cores).
    """
    import keras
    archive = keras.export.ExportArchive()
    archive.track(model)
    # training=False: called bare, Keras' augmentation layers default to training and would
    # be traced into the graph (and the converter has no kernels for them).
    archive.add_endpoint('serve', lambda images: model(images, training=False),
                         input_signature=[tf.TensorSpec([1, *shape], tf.float32)])
    archive.write_out(path, verbose=False)


def save_serving_model(model, tf_transform_output: tft.TFTransformOutput, path: str) -> None:
    """Writes the SavedModel with both signatures to `path`."""
    module = tf.Module()
    module.model = model
    # The tf.Variables under the Keras 3 variables, tracked directly: without them TF Serving
    # (a TF1-style session that restores by the saver's op) restores copies the functions do
    # not read, and every request fails with "Could not find variable" (keras-team/keras#19274,
    # tensorflow/serving#2250). tf.saved_model.load in Python binds them either way.
    module.model_variables = [variable.value for variable in model.variables]
    module.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = {key: spec for key, spec in tf_transform_output.raw_feature_spec().items()
                if key != features.LABEL_KEY}
    shape, _ = features.schema_image(tf_transform_output.raw_metadata.schema)

    def predict(raw_features):
        transformed = module.tft_layer(raw_features)
        images = transformed[features.transformed_name(features.PIXELS_KEY)]
        probabilities = module.model(images, training=False)
        return {PREDICTION_KEY: probabilities, CLASS_IDS_KEY: tf.argmax(probabilities, axis=-1)}

    # No Python control flow here depends on a tensor: AutoGraph would only transpile Keras'
    # and TFT's call chain while tracing.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)],
                 autograph=False)
    def serve_examples(serialized):
        return predict(tf.io.parse_example(serialized, raw_spec))

    @tf.function(input_signature=[
        tf.TensorSpec([None, *features.images_input_shape(shape)], tf.uint8, name=IMAGES_INPUT)],
        autograph=False)
    def serve_images(images):
        pixels = tf.cast(tf.reshape(images, [-1, *shape]), tf.int64)
        return predict({features.PIXELS_KEY: pixels})

    with _without_keras2_traces():
        tf.saved_model.save(module, path, signatures={
            DEFAULT_SIGNATURE: serve_examples.get_concrete_function(),
            IMAGES_SIGNATURE: serve_images.get_concrete_function(),
        })


def _without_keras2_traces():
    """A scope in which tf.saved_model.save writes no Keras 2 call traces.

    Transform's layer is a Keras 2 (tf_keras) model, and saving one traces its call functions
    again, through AutoGraph, for reloading it as a Keras layer: most of the export's time, for
    functions that neither signature, TF Serving nor TFMA use (the signatures carry their own
    graphs). tf_keras' own switch for this (`save_traces`, public in Model.save) is set here
    directly: the one private name the project uses from it, checked by tests/test_serving.py.
    """
    from tf_keras.src.saving.legacy.saved_model import utils
    return utils.keras_option_scope(save_traces=False)


def describe_signatures(saved_model_dir: str):
    """{signature: {method_name, inputs, outputs}} as TF Serving reads them from saved_model.pb.

    Each input and output is {'dtype': 'uint8', 'shape': [-1, 28, 28]} (-1: any size).
    """
    from tensorflow.core.protobuf import saved_model_pb2
    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(saved_model_dir, 'saved_model.pb'), 'rb') as f:
        saved_model.ParseFromString(f.read())
    serving = [graph for graph in saved_model.meta_graphs
               if tf.saved_model.SERVING in graph.meta_info_def.tags]

    def tensor(info):
        shape = None if info.tensor_shape.unknown_rank else [d.size for d in info.tensor_shape.dim]
        return {'dtype': tf.dtypes.as_dtype(info.dtype).name, 'shape': shape}

    return {name: {'method_name': signature.method_name,
                   'inputs': {key: tensor(info) for key, info in sorted(signature.inputs.items())},
                   'outputs': {key: tensor(info)
                               for key, info in sorted(signature.outputs.items())}}
            for graph in serving[:1] for name, signature in sorted(graph.signature_def.items())
            if not name.startswith('__')}  # __saved_model_init_op is TensorFlow's, not a client's


def expected_signatures():
    """The signatures of model/signatures.json."""
    import json
    with open(SIGNATURES_FILE) as f:
        return json.load(f)
