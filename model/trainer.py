"""Trainer entry point (`run_fn`): the network on Transform's output, under MirroredStrategy over
every GPU when there are several (default_strategy).

Run parameters arrive in the Trainer's custom_config (see params.TrainingParams), so epochs, batch
size, learning rate and mixed precision change per run without editing code.
"""

import contextlib
import gc
import json
import os
import time
from typing import Callable, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

from image_tfx.model import export
from image_tfx.model import features
from image_tfx.model.model import (ModelSpec, build_model, build_training_state,
                                   float32_copy, trainer_settings)
from image_tfx.model.params import PROGRESS_MESSAGE, TrainingParams

class EpochProgress(keras.callbacks.Callback):
    """Logs one line per epoch (loss, accuracy, images/s, time left) with the message
    PROGRESS_MESSAGE, which the local runner's progress lines show without --verbose."""

    def __init__(self, epochs: int, global_batch: int):
        super().__init__()
        self.epochs, self.global_batch = epochs, global_batch
        self._begun = self._first = 0.0
        self._steps = 0
        self._train_seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._begun = time.perf_counter()
        self._first = self._first or self._begun
        self._steps, self._train_seconds = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last step of the call: several with steps_per_execution.
        self._steps = min(batch + 1, self.params.get('steps') or batch + 1)
        self._train_seconds = time.perf_counter() - self._begun

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        done = epoch + 1
        parts = []
        for keys, label in ((('loss',), 'loss'),
                            (('accuracy', 'sparse_categorical_accuracy'), 'accuracy'),
                            (('val_accuracy', 'val_sparse_categorical_accuracy'),
                             'eval accuracy')):
            key = next((k for k in keys if k in logs), None)
            if key is not None:
                parts.append(f'{label} {float(logs[key]):.4f}')
        if self._train_seconds > 0:
            parts.append(f'{self._steps * self.global_batch / self._train_seconds:,.0f} images/s')
        left = (time.perf_counter() - self._first) / done * (self.epochs - done)
        if done < self.epochs:
            parts.append(f'about {left:.0f} s left')
        logging.info(PROGRESS_MESSAGE, f'epoch {done}/{self.epochs}: ' + ', '.join(parts))


# Written into the Trainer's model_run folder: how long model.fit spent training (bench/).
FIT_TIMING_FILE = 'fit_timing.json'
# Transformed splits up to this size are read once and trained on from memory; larger ones
# stream from disk every epoch. 60,000 28x28 float32 images are 188 MB.
IN_MEMORY_LIMIT_BYTES = 1 << 30


class FitTimer(keras.callbacks.Callback):
    """Wall time of model.fit's training passes, without its per-epoch validation.

    From the start of each epoch to the start of its validation (or the epoch's end): the
    input pipeline's waits count, evaluation does not. Work the caller does for model.fit
    before calling it counts too, timed with setup(); under a created strategy Keras does the
    same work inside model.fit before the first epoch, untimed. Shared with
    bench/pipeline_bench.py's bare-Keras baseline so that both are timed the same way.
    """

    def __init__(self):
        super().__init__()
        self.epochs = 0
        self.epoch_seconds = []  # the first one includes tracing the training function
        self.setup_seconds = 0.0  # work done for model.fit before it is called (setup())
        self._started = None

    @property
    def seconds(self) -> float:
        return self.setup_seconds + sum(self.epoch_seconds)

    @contextlib.contextmanager
    def setup(self):
        """Counts the time of the block in `seconds`: preparation that model.fit would
        otherwise do itself."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.setup_seconds += time.perf_counter() - started

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def _stop(self):
        if self._started is not None:
            self.epoch_seconds.append(time.perf_counter() - self._started)
            self._started = None

    def on_test_begin(self, logs=None):
        self._stop()

    def on_epoch_end(self, epoch, logs=None):
        self._stop()
        self.epochs += 1


def _to_images(batch, label):
    return batch[features.transformed_name(features.PIXELS_KEY)], label


def input_fn(file_pattern, data_accessor: DataAccessor,
             tf_transform_output: tft.TFTransformOutput, batch_size: int,
             shuffle: bool) -> tf.data.Dataset:
    """Transformed examples as (images [b, H, W, C], labels [b, 1]), one pass, prefetched."""
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size, label_key=features.transformed_name(features.LABEL_KEY),
            num_epochs=1, shuffle=shuffle),
        tf_transform_output.transformed_metadata.schema)
    return dataset.map(_to_images, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def materialize(dataset: tf.data.Dataset,
                limit_bytes: int = IN_MEMORY_LIMIT_BYTES,
                ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """(images, labels) of a finite dataset of batches, or None once it passes limit_bytes."""
    images, labels, total = [], [], 0
    for x, y in dataset:
        total += x.shape.num_elements() * x.dtype.size
        if total > limit_bytes:
            return None
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def epochs_from_one_iterator(dataset: tf.data.Dataset, steps_per_epoch: int
                             ) -> Tuple[tf.data.Dataset, Optional[int]]:
    """(dataset, steps_per_epoch) for model.fit: an epoch-sized dataset repeated, so that one
    iterator serves every epoch, when its steps are known (`steps_per_epoch` > 0); else as
    it is, and Keras counts the steps.

    Keras otherwise makes a new iterator at each epoch's end and releases the old one as the
    next epoch starts; those epochs sometimes started with a wait. Each repetition reshuffles
    like a new epoch of model.fit(x, y).
    """
    if steps_per_epoch > 0:
        return dataset.repeat(), steps_per_epoch
    return dataset, None


def in_memory_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int,
                      shuffle: bool) -> tf.data.Dataset:
    """Batches of arrays held in memory, reshuffled every epoch like model.fit(x, y)."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def _old_objects_frozen():
    """Keeps the garbage collector off the objects that existed before training.

    In a local run the Trainer shares its process with the components before it (Beam, TFT):
    close to a million long-lived objects, which every full collection during model.fit walks
    again (0.7-0.9 s each, measured). Frozen, they are left alone until training ends.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class GpuError(RuntimeError):
    """GPUs were requested and TensorFlow does not see them; the message says what it sees."""


def require_gpus(count: int) -> None:
    """Fails unless TensorFlow sees at least `count` GPUs (0: no requirement)."""
    if not count:
        return
    visible = tf.config.list_physical_devices('GPU')
    if len(visible) < count:
        raise GpuError(
            f'{count} GPU(s) requested (--gpus), TensorFlow sees {len(visible)} (built with '
            f'CUDA: {tf.test.is_built_with_cuda()}); use the GPU image (VARIANT=gpu) on a node '
            'with the NVIDIA driver, or run without --gpus to train on the CPU')


def default_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over every visible GPU when there are two or more; else TensorFlow's
    default strategy on the one device there is.

    On one device both compute the same steps, but MirroredStrategy's cross-replica machinery
    made model.fit slower on a CPU (bench/fit_levers.py, docs/performance.md)."""
    gpus = tf.config.list_logical_devices('GPU')
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _devices(strategy: tf.distribute.Strategy):
    """The devices a strategy trains on; the default strategy's is the first GPU, else the CPU."""
    if strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
        gpus = tf.config.list_logical_devices('GPU')
        return [(gpus or tf.config.list_logical_devices('CPU'))[0].name]
    return list(strategy.extended.worker_devices)


def model_spec(params: TrainingParams, tf_transform_output: tft.TFTransformOutput) -> ModelSpec:
    """The network the run asks for, for the data set's image shape and classes (its schema)."""
    shape, classes = features.schema_image(tf_transform_output.raw_metadata.schema)
    return ModelSpec(shape, classes, params.model, params.model_width, params.model_resolution,
                     augment=params.augments)


def train_model(params: TrainingParams,
                make_dataset: Callable[[str, int], tf.data.Dataset],
                spec: ModelSpec,
                log_dir: Optional[str] = None,
                strategy: Optional[tf.distribute.Strategy] = None) -> keras.Model:
    """Builds the network inside the strategy's scope and fits it.

    Args:
      params: the run parameters.
      spec: the network and the images and classes it is for.
      make_dataset: (split, global_batch_size) -> dataset of (images, labels) for 'train'/'eval'.
      log_dir: where TensorBoard logs go (loss and accuracy per epoch), or None for none.
      strategy: defaults to default_strategy(): MirroredStrategy over every visible GPU when
        there are several, else the one device.
    """
    require_gpus(params.gpus)
    if params.seed is not None:
        keras.utils.set_random_seed(params.seed)
    strategy = strategy or default_strategy()
    timer = FitTimer()
    global_batch = params.batch_size * strategy.num_replicas_in_sync
    devices = _devices(strategy)
    logging.info('%s: %d replica(s) on %s; global batch %d; %s model for %s '
                 'images, %d classes', type(strategy).__name__, strategy.num_replicas_in_sync,
                 ', '.join(devices),
                 global_batch, spec.architecture, 'x'.join(map(str, spec.input_shape)),
                 spec.num_classes)
    previous_policy = keras.mixed_precision.global_policy()
    if params.mixed_precision:
        keras.mixed_precision.set_global_policy(params.mixed_precision)
    try:
        train, evaluation = make_dataset('train', global_batch), make_dataset('eval', global_batch)
        steps_per_epoch = int(train.cardinality())  # negative when unknown (streamed)
        with strategy.scope():
            # With two replicas Keras 3.15's multi-step loop fails on the distributed iterator
            # (tests/test_mirrored.py): several steps per call on one device only.
            one_device = strategy.num_replicas_in_sync == 1
            model = build_model(spec, params.learning_rate,
                                settings=trainer_settings(steps_per_epoch)
                                if one_device else None,
                                training_steps=steps_per_epoch * params.epochs
                                if steps_per_epoch > 0 else None)
            # Keras builds the training state before tracing only under a created strategy;
            # under the default one its first trace does, and is then repeated.
            builds_ahead = tf.distribute.has_strategy()
        if not builds_ahead:
            with timer.setup():
                build_training_state(model, train.element_spec)
        callbacks = [EpochProgress(params.epochs, global_batch), timer]
        if log_dir:
            callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq='epoch'))
        fit_data, fit_steps = (epochs_from_one_iterator(train, steps_per_epoch) if one_device
                               else (train, None))
        with _old_objects_frozen():
            model.fit(fit_data, epochs=params.epochs, steps_per_epoch=fit_steps,
                      validation_data=evaluation, callbacks=callbacks, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    if log_dir:
        tf.io.gfile.makedirs(log_dir)
        with tf.io.gfile.GFile(os.path.join(log_dir, FIT_TIMING_FILE), 'w') as f:
            f.write(json.dumps({'fit_seconds': timer.seconds, 'epochs': timer.epochs,
                                'global_batch_size': global_batch,
                                'replicas': strategy.num_replicas_in_sync,
                                'devices': devices}))
    return model


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point (GenericExecutor)."""
    params = TrainingParams.from_custom_config(fn_args.custom_config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    files = {'train': fn_args.train_files, 'eval': fn_args.eval_files}

    def make_dataset(split: str, batch_size: int) -> tf.data.Dataset:
        # Parsing tf.Examples every epoch made model.fit about a third slower than fitting
        # from arrays (measured on the 5,000 digits): read a split that fits in memory once.
        arrays = materialize(input_fn(files[split], fn_args.data_accessor, tf_transform_output,
                                      batch_size=1024, shuffle=False))
        if arrays is not None:
            logging.info('%s split: %d examples, trained on from memory', split, len(arrays[1]))
            return in_memory_dataset(*arrays, batch_size, shuffle=split == 'train')
        return input_fn(files[split], fn_args.data_accessor, tf_transform_output, batch_size,
                        shuffle=split == 'train')

    spec = model_spec(params, tf_transform_output)
    model = train_model(params, make_dataset, spec, log_dir=fn_args.model_run_dir)
    if params.mixed_precision:
        model = float32_copy(model, spec)  # served and converted to TFLite in float32
    export.save_serving_model(model, tf_transform_output, fn_args.serving_model_dir)
    # fn_args.serving_model_dir is <model artifact>/Format-Serving.
    export.save_keras_export(model, export.keras_export_path(
        os.path.dirname(fn_args.serving_model_dir)), spec.input_shape)

