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


def test_edge_network_runs_small_and_augments_only_in_training():
    from image_tfx.model.model import ModelSpec, augmentation
    model = build_model(ModelSpec((48, 48, 3), 200, 'edge', augment=True))
    assert model.input_shape == (None, 48, 48, 3) and model.output_shape == (None, 200)
    names = [layer.name for layer in model.layers]
    # Resized to 32 first, then augmented: every later layer works on 32x32.
    assert names[1:5] == ['resize', 'augment_rotation', 'augment_zoom', 'augment_shift']
    assert model.get_layer('resize').output.shape[1:3] == (32, 32)
    assert model.count_params() < 350_000
    # Activations the int8 converter keeps exact: ReLU, no hard-swish.
    assert {type(layer).__name__ for layer in model.layers} >= {'ReLU', 'BatchNormalization'}
    images = np.random.default_rng(0).random((4, 32, 32, 3)).astype(np.float32)
    augment = keras.Sequential(augmentation())
    np.testing.assert_array_equal(augment(images, training=False), images)
    assert not np.allclose(augment(images, training=True), images)
    # Images already small keep their size; the seed CNN augments only when asked.
    small = build_model(ModelSpec((28, 28, 1), 10, 'edge'))
    assert 'resize' not in [layer.name for layer in small.layers]
    tiny = build_model(ModelSpec((5, 6, 1), 10, 'edge'))  # brought up to what pooling needs
    assert tiny.get_layer('resize').output.shape[1:3] == (8, 8)
    assert not any(layer.name.startswith('augment') for layer in small.layers)
    cnn = build_model(ModelSpec((28, 28, 1), 10, 'cnn', augment=True))
    assert [layer.name for layer in cnn.layers][:3] == ['augment_rotation', 'augment_zoom',
                                                         'augment_shift']


def test_augmentation_defaults_by_model_and_seed_is_checked():
    assert params.TrainingParams(model='edge').augments
    assert not params.TrainingParams(model='cnn').augments
    assert params.TrainingParams(model='cnn', augment=True).augments
    assert not params.TrainingParams(model='edge', augment=False).augments
    with pytest.raises(ValueError):
        params.TrainingParams(seed=-1)


def test_a_seeded_training_is_repeatable():
    from image_tfx.model.model import ModelSpec
    from image_tfx.model.trainer import train_model
    rng = np.random.default_rng(0)
    images = rng.random((256, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, (256, 1))

    def make_dataset(split, batch_size):
        return tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(256).batch(
            batch_size)

    models = []

    def weights(seed):
        run = params.TrainingParams(epochs=2, batch_size=32, model='edge', seed=seed)
        models.append(train_model(run, make_dataset,
                                  ModelSpec((28, 28, 1), 10, 'edge', augment=True)))
        return np.concatenate([w.reshape(-1) for w in models[-1].get_weights()])

    first = weights(3)
    np.testing.assert_array_equal(first, weights(3))
    assert not np.array_equal(first, weights(4))
    # The edge network's rate rose from zero over a tenth of the fit's 16 steps (8 per epoch,
    # 2 epochs), then fell along a cosine to zero at its end.
    schedule = models[0].optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert float(schedule(0)) == 0.0 and float(schedule(1)) == pytest.approx(1e-3)
    assert float(schedule(2)) < 1e-3 and float(schedule(16)) == pytest.approx(0.0, abs=1e-12)


def test_the_trainer_on_one_device_builds_ahead_and_runs_an_epoch_per_call(monkeypatch):
    """Outside a strategy's scope Keras creates the optimizer's and the metrics' variables
    while tracing its training function, then traces it again; the Trainer creates them first,
    without moving a weight or leaving a metric updated. An epoch whose steps are known is
    one call of the training function (streamed data: STEPS_PER_EXECUTION steps a call), and
    one iterator serves every epoch."""
    from image_tfx.model import trainer
    from image_tfx.model.model import (STEPS_PER_EXECUTION, ModelSpec, build_training_state,
                                       trainer_settings)
    from image_tfx.model.trainer import epochs_from_one_iterator, train_model
    fitted_from = []

    def recorded(dataset, steps_per_epoch):
        fitted_from.append(epochs_from_one_iterator(dataset, steps_per_epoch))
        return fitted_from[-1]

    monkeypatch.setattr(trainer, 'epochs_from_one_iterator', recorded)
    rng = np.random.default_rng(0)
    images = rng.random((64, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, 64)

    def make_dataset(split, batch_size):
        return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)

    created_while_traced = []

    def creator(next_creator, **kwargs):
        if tf.inside_function():
            created_while_traced.append(kwargs.get('name'))
        return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
        trained = train_model(params.TrainingParams(epochs=1, batch_size=32), make_dataset,
                              ModelSpec((28, 28, 1), 10))
    assert created_while_traced == []
    assert trained.steps_per_execution == 2  # 64 images, batches of 32
    [(fitted, fitted_steps)] = fitted_from
    assert fitted_steps == 2 and int(fitted.cardinality()) == tf.data.INFINITE_CARDINALITY
    repeated, steps = epochs_from_one_iterator(make_dataset('train', 32), 2)
    assert steps == 2 and int(repeated.cardinality()) == tf.data.INFINITE_CARDINALITY
    streamed = make_dataset('train', 32).filter(lambda x, y: True)  # steps unknown
    assert epochs_from_one_iterator(streamed, int(streamed.cardinality())) == (streamed, None)
    assert trainer_settings(-2) == {'steps_per_execution': STEPS_PER_EXECUTION}

    model = build_model(ModelSpec((28, 28, 1), 10))
    weights = model.get_weights()
    assert build_training_state(model, make_dataset('train', 32).element_spec)
    assert model.optimizer.built
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert all(float(variable.numpy()) == 0.0
               for metric in model.metrics for variable in metric.variables)
    images_spec, labels_spec = make_dataset('train', 32).element_spec
    assert not build_training_state(model, (images_spec, labels_spec, labels_spec))
    assert not build_training_state(
        model, (tf.TensorSpec([None, None, None, 1]), labels_spec))  # Keras builds as before

    # Under mixed precision the optimizer is Keras' loss-scale wrapper around Adam.
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy('mixed_float16')
    try:
        model = build_model(ModelSpec((28, 28, 1), 10))
        dataset = make_dataset('train', 32)
        assert build_training_state(model, dataset.element_spec)
        created_while_traced.clear()
        with tf.variable_creator_scope(creator):
            model.fit(dataset, epochs=1, verbose=0)
        assert created_while_traced == []
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_only_the_edge_network_decays_its_learning_rate():
    from image_tfx.model.model import ModelSpec
    cnn = build_model(ModelSpec((28, 28, 1), 10, 'cnn'), training_steps=100)
    assert not isinstance(cnn.optimizer._learning_rate,
                          keras.optimizers.schedules.LearningRateSchedule)
    edge = build_model(ModelSpec((28, 28, 1), 10, 'edge'))  # steps unknown: constant
    assert not isinstance(edge.optimizer._learning_rate,
                          keras.optimizers.schedules.LearningRateSchedule)
