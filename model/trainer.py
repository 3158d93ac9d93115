"""Trainer entry point (`run_fn`): the CNN under MirroredStrategy on Transform's output.

Run parameters arrive in the Trainer's custom_config (see params.TrainingParams), so epochs, batch
size, learning rate and mixed precision change per run without editing code.
"""

import json
import os
import time
from typing import Callable, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from mnist_tfx.model import export
from mnist_tfx.model import features
from mnist_tfx.model.model import INPUT_SHAPE, build_model
from mnist_tfx.model.params import TrainingParams

class _EpochLog(keras.callbacks.Callback):
    """Logs one line per epoch through absl, shown with run_local.py --verbose."""

    def on_epoch_end(self, epoch, logs=None):
        logging.info('epoch %d: %s', epoch + 1,
                     ', '.join(f'{k}={v:.4f}' for k, v in sorted((logs or {}).items())))


# Written into the Trainer's model_run folder: how long model.fit spent training (bench/).
FIT_TIMING_FILE = 'fit_timing.json'


class FitTimer(keras.callbacks.Callback):
    """Wall time of model.fit's training passes, without its per-epoch validation.

    From the start of each epoch to the start of its validation (or the epoch's end): the
    input pipeline's waits count, evaluation does not. Shared with bench/pipeline_bench.py's
    bare-Keras baseline so that both are timed the same way.
    """

    def __init__(self):
        super().__init__()
        self.seconds = 0.0
        self.epochs = 0
        self._started = None

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def _stop(self):
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def on_test_begin(self, logs=None):
        self._stop()

    def on_epoch_end(self, epoch, logs=None):
        self._stop()
        self.epochs += 1


def _to_images(batch, label):
    pixels = batch[features.transformed_name(features.PIXELS_KEY)]
    return tf.reshape(pixels, (-1, *INPUT_SHAPE)), label


def input_fn(file_pattern, data_accessor: tfx.components.DataAccessor,
             tf_transform_output: tft.TFTransformOutput, batch_size: int,
             shuffle: bool) -> tf.data.Dataset:
    """Transformed examples as (images [b, 28, 28, 1], labels [b, 1]), one pass, prefetched."""
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size, label_key=features.transformed_name(features.LABEL_KEY),
            num_epochs=1, shuffle=shuffle),
        tf_transform_output.transformed_metadata.schema)
    return dataset.map(_to_images, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def train_model(params: TrainingParams,
                make_dataset: Callable[[str, int], tf.data.Dataset],
                log_dir: Optional[str] = None,
                strategy: Optional[tf.distribute.Strategy] = None) -> keras.Model:
    """Builds the CNN inside the strategy's scope and fits it.

    Args:
      params: the run parameters.
      make_dataset: (split, global_batch_size) -> dataset of (images, labels) for 'train'/'eval'.
      log_dir: where TensorBoard logs go (loss and accuracy per epoch), or None for none.
      strategy: defaults to MirroredStrategy() over every visible GPU (or the CPU if none).
    """
    strategy = strategy or tf.distribute.MirroredStrategy()
    timer = FitTimer()
    global_batch = params.batch_size * strategy.num_replicas_in_sync
    logging.info('Training on %d replica(s), global batch %d', strategy.num_replicas_in_sync,
                 global_batch)
    previous_policy = keras.mixed_precision.global_policy()
    if params.mixed_precision:
        keras.mixed_precision.set_global_policy(params.mixed_precision)
    try:
        with strategy.scope():
            model = build_model(params.learning_rate)
        callbacks = [_EpochLog(), timer]
        if log_dir:
            callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq='epoch'))
        model.fit(make_dataset('train', global_batch), epochs=params.epochs,
                  validation_data=make_dataset('eval', global_batch),
                  callbacks=callbacks, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    if log_dir:
        tf.io.gfile.makedirs(log_dir)
        with tf.io.gfile.GFile(os.path.join(log_dir, FIT_TIMING_FILE), 'w') as f:
            f.write(json.dumps({'fit_seconds': timer.seconds, 'epochs': timer.epochs,
                                'global_batch_size': global_batch,
                                'replicas': strategy.num_replicas_in_sync}))
    return model


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """TFX Trainer entry point (GenericExecutor)."""
    params = TrainingParams.from_custom_config(fn_args.custom_config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    files = {'train': fn_args.train_files, 'eval': fn_args.eval_files}

    def make_dataset(split: str, batch_size: int) -> tf.data.Dataset:
        return input_fn(files[split], fn_args.data_accessor, tf_transform_output, batch_size,
                        shuffle=split == 'train')

    model = train_model(params, make_dataset, log_dir=fn_args.model_run_dir)
    export.save_serving_model(model, tf_transform_output, fn_args.serving_model_dir)
    # fn_args.serving_model_dir is <model artifact>/Format-Serving.
    export.save_keras_export(model, export.keras_export_path(
        os.path.dirname(fn_args.serving_model_dir)))

