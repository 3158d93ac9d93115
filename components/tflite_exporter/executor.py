"""Executor of TFLiteExporter: the Trainer's network as float32 and full-integer TFLite models.

The representative data set for quantization is the first N examples of the *transformed*
training split, i.e. exactly what the network was trained on. Conversion runs in a child process
(see convert.py): a converter crash becomes a failed component with a clear message.
"""

import os
import subprocess
import sys
import tempfile
from typing import Any, Dict, List

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from image_tfx.data import object_store
from image_tfx.components import storage
from image_tfx.components.tflite_exporter import convert
from image_tfx.components.tflite_exporter import spec
from image_tfx.model import export
from image_tfx.model import features

TRAIN_SPLIT = 'train'
_STDERR_LINES = 15


class ConversionError(RuntimeError):
    """The TFLite converter failed or crashed."""


def transformed_images(examples: types.Artifact, transform_graph_uri: str, split: str,
                       limit: int) -> np.ndarray:
    """The first `limit` images of a transformed split, as the network sees them [n, H, W, C]."""
    feature_spec = tft.TFTransformOutput(transform_graph_uri).transformed_feature_spec()
    key = features.transformed_name(features.PIXELS_KEY)
    pattern = storage.join(artifact_utils.get_split_uri([examples], split), '*')
    dataset = (tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type='GZIP')
               .take(limit).batch(256)
               .map(lambda batch: tf.io.parse_example(batch, {key: feature_spec[key]})[key]))
    images = np.concatenate([batch.numpy() for batch in dataset])
    return images.astype(np.float32)


def run_conversion(saved_model_dir: str, representative: np.ndarray, out_dir: str) -> None:
    """Runs convert.py in a child process; raises ConversionError with its last output.

    The child reads and writes local folders only (a SavedModel in object storage is copied
    to one first): TensorFlow in a fresh process has no s3:// filesystem until tensorflow-io
    is imported, and the converter has no use for one."""
    with tempfile.TemporaryDirectory() as tmp:
        local_model = saved_model_dir
        if object_store.is_remote(saved_model_dir):
            local_model = os.path.join(tmp, 'saved_model')
            storage.copy_tree(saved_model_dir, local_model)
        data_file = os.path.join(tmp, 'representative.npy')
        np.save(data_file, representative)
        local_out = os.path.join(tmp, 'tflite')
        result = subprocess.run(
            [sys.executable, '-m', convert.__name__, local_model, data_file, local_out],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            how = (f'was killed by signal {-result.returncode}' if result.returncode < 0
                   else f'exited with code {result.returncode}')
            tail = '\n'.join(result.stderr.strip().splitlines()[-_STDERR_LINES:])
            raise ConversionError(f'TFLite conversion of {saved_model_dir} {how}:\n{tail}')
        storage.makedirs(out_dir)
        for name in (convert.FLOAT32_FILE, convert.INT8_FILE):
            if not os.path.exists(os.path.join(local_out, name)):
                raise ConversionError(f'TFLite conversion of {saved_model_dir} wrote no {name}')
            fileio.copy(os.path.join(local_out, name), storage.join(out_dir, name),
                        overwrite=True)


class Executor(base_executor.BaseExecutor):
    """Writes model_float32.tflite and model_int8.tflite into the TFLiteModel artifact."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[spec.TRANSFORMED_EXAMPLES_KEY])
        transform_graph = artifact_utils.get_single_uri(input_dict[spec.TRANSFORM_GRAPH_KEY])
        output = artifact_utils.get_single_instance(output_dict[spec.TFLITE_MODEL_KEY])

        saved_model_dir = export.keras_export_path(model.uri)
        if not fileio.isdir(saved_model_dir):
            raise ConversionError(f'{saved_model_dir}: the Trainer wrote no Keras export to '
                                  'convert (model.export())')
        representative = transformed_images(examples, transform_graph, TRAIN_SPLIT,
                                            exec_properties[spec.NUM_REPRESENTATIVE_KEY])
        run_conversion(saved_model_dir, representative, output.uri)
        for name, prop in ((convert.FLOAT32_FILE, 'float32_bytes'),
                           (convert.INT8_FILE, 'int8_bytes')):
            output.set_int_custom_property(prop, storage.size(storage.join(output.uri, name)))
        output.set_int_custom_property('representative_examples', len(representative))
