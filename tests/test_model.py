"""The CNN, the preprocessing_fn, the serving signatures and the dotted entry points."""

import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from image_tfx.model import features
from image_tfx.model import params
from image_tfx.model import preprocessing
from image_tfx.model.model import build_model
from image_tfx.pipeline import pipeline as pipeline_def


def test_model_is_the_seed_cnn():
    model = build_model()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ['Conv2D', 'MaxPooling2D', 'Flatten', 'Dense']
    conv, pool, _, dense = model.layers
    assert (conv.filters, conv.kernel_size, conv.activation.__name__) == (32, (3, 3), 'relu')
    assert pool.pool_size == (2, 2)
    assert (dense.units, dense.activation.__name__) == (10, 'softmax')
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert model.count_params() == 32 * 9 + 32 + 13 * 13 * 32 * 10 + 10
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.loss == 'sparse_categorical_crossentropy'


def test_mixed_precision_keeps_float32_output():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy('mixed_float16')
    try:
        model = build_model()
        assert model.layers[0].compute_dtype == 'float16'
        assert model(np.zeros((2, 28, 28, 1), np.float32)).dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_preprocessing_scales_pixels_to_unit_range():
    pixels = tf.reshape(tf.constant([[0, 51, 255] + [0] * 781], tf.int64), [1, 28, 28, 1])
    out = preprocessing.preprocessing_fn({features.PIXELS_KEY: pixels,
                                          features.LABEL_KEY: tf.constant([[7]], tf.int64)})
    scaled = out[features.transformed_name(features.PIXELS_KEY)].numpy()
    assert scaled.shape == (1, 28, 28, 1)
    np.testing.assert_allclose(scaled.reshape(-1)[:3], [0.0, 0.2, 1.0])
    assert scaled.dtype == np.float32
    assert out[features.transformed_name(features.LABEL_KEY)].numpy().tolist() == [[7]]


def test_preprocessing_without_label_for_serving():
    out = preprocessing.preprocessing_fn({features.PIXELS_KEY: tf.zeros([1, 28, 28, 1], tf.int64)})
    assert list(out) == [features.transformed_name(features.PIXELS_KEY)]


@pytest.mark.parametrize('dotted', [pipeline_def.PREPROCESSING_FN, pipeline_def.RUN_FN])
def test_dotted_entry_points_import(dotted):
    module, _, name = dotted.rpartition('.')
    assert callable(getattr(importlib.import_module(module), name))


def test_training_params_round_trip_and_validation():
    p = params.TrainingParams(epochs=2, batch_size=32, learning_rate=0.01,
                              mixed_precision='mixed_float16')
    assert params.TrainingParams.from_custom_config(p.to_custom_config()) == p
    assert params.TrainingParams.from_custom_config(None) == params.TrainingParams()
    with pytest.raises(ValueError):
        params.TrainingParams(mixed_precision='float8')
    with pytest.raises(ValueError):
        params.TrainingParams(epochs=0)
