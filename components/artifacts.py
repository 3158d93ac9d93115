"""Artifact types of this pipeline's own components.

They are types of their own, not TFX's Model and ModelBlessing, so that the baseline resolver,
which looks up every Model and ModelBlessing of the pipeline, never mistakes a TFLite export or
its check for a trained model or the Evaluator's blessing. Their names carry a namespace
(`image_tfx.`), the form Kubeflow's v2 compiler requires of custom artifact types; Kubeflow's
container entrypoint imports a custom type by that name, which image_tfx/__init__.py answers.
"""

from typing import Any, Dict, List, Optional

import numpy as np
from tfx.types import artifact_utils
from tfx.types.artifact import Artifact

# Custom property of ExampleGen's Examples artifact: the data set's ImageSpec as JSON.
IMAGE_SPEC_PROPERTY = 'image_spec'
# Custom property of the Examples artifact: exact copies among its images, as JSON
# (data/sources.find_duplicates).
DUPLICATES_PROPERTY = 'duplicates'
# A blessing's figures (TFLiteBlessing, TFJSBlessing), beside its verdict (custom property
# `blessed`).
METRICS_FILE = 'metrics.json'
# The two models of a TFLiteModel artifact.
FLOAT32_FILE = 'model_float32.tflite'
INT8_FILE = 'model_int8.tflite'
# The gate's findings in its DataCheck artifact: label counts, drift figures, the baseline.
DATA_CHECK_FILE = 'data_check.json'


class TFLiteModel(Artifact):
    """A folder holding model_float32.tflite and model_int8.tflite of one trained model."""
    TYPE_NAME = 'image_tfx.TFLiteModel'


class TFLiteBlessing(Artifact):
    """The TFLite check's verdict and figures (metrics.json) for one TFLiteModel."""
    TYPE_NAME = 'image_tfx.TFLiteBlessing'


def image_spec(examples: Artifact):
    """The ImageSpec (shape, class names) ExampleGen recorded on an Examples artifact."""
    from image_tfx.data import sources
    return sources.ImageSpec.from_json(examples.get_string_custom_property(IMAGE_SPEC_PROPERTY))


def load_statistics(artifact: Artifact) -> Dict[str, Any]:
    """TFDV statistics (DatasetFeatureStatistics) of every split of an ExampleStatistics
    artifact, by split name, read with TFX's own reader (it knows each artifact version's
    file layout)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2
    from tfx.components.statistics_gen import stats_artifact_utils
    result = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        stats = stats_artifact_utils.load_statistics(artifact, split).proto()
        result[split] = stats.datasets[0] if stats.datasets else \
            statistics_pb2.DatasetFeatureStatistics()
    return result


def example_counts(statistics: Artifact) -> Dict[str, int]:
    """Examples per split, from an ExampleStatistics artifact (StatisticsGen's output)."""
    return {split: int(stats.num_examples)
            for split, stats in load_statistics(statistics).items()}


class TFJSModel(Artifact):
    """A folder holding the TensorFlow.js graph model (model.json and its weight files)."""
    TYPE_NAME = 'image_tfx.TFJSModel'


class TFJSBlessing(Artifact):
    """The browser check's verdict on a TFJSModel and its figures (metrics.json: the model
    card's entry for the format)."""
    TYPE_NAME = 'image_tfx.TFJSBlessing'


class DataCheck(Artifact):
    """The validator gate's findings (data_check.json): label counts per split, drift figures
    against the data of the last pushed model, and which pushed version that was."""
    TYPE_NAME = 'image_tfx.DataCheck'


def load_anomalies(artifact: Artifact) -> Dict[str, Any]:
    """Anomalies of every split of an ExampleAnomalies artifact, by split name."""
    # TFX 1.16 has no reader of anomalies; its ExampleValidator names the file.
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    from tfx.components.example_validator.executor import DEFAULT_FILE_NAME
    from image_tfx.components import storage
    result = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        path = storage.join(artifact_utils.get_split_uri([artifact], split), DEFAULT_FILE_NAME)
        result[split] = anomalies_pb2.Anomalies.FromString(storage.read_bytes(path))
    return result


def _reason_text(reason) -> str:
    # TFDV's description of a custom validation only repeats its SQL; its short description is
    # the rule's own text from schema/validations.pbtxt.
    if reason.description and not reason.description.startswith('Custom validation'):
        return f'{reason.short_description}: {reason.description}'
    return reason.short_description or reason.description


def describe_anomalies(by_split: Dict[str, Any]) -> List[str]:
    """One line per broken rule: split, feature (or the data set) and what is wrong."""
    lines = []
    for split, anomalies in sorted(by_split.items()):
        for feature, info in sorted(anomalies.anomaly_info.items()):
            for reason in info.reason or [info]:
                lines.append(f"split '{split}', feature '{feature}': {_reason_text(reason)}")
        if anomalies.HasField('dataset_anomaly_info'):
            for reason in anomalies.dataset_anomaly_info.reason:
                lines.append(f"split '{split}', whole data set: {_reason_text(reason)}")
    return lines


def load_data_check(artifact_uri: str) -> Dict[str, Any]:
    """The gate's findings, as its executor wrote them (DATA_CHECK_FILE)."""
    import json
    from image_tfx.components import storage
    return json.loads(storage.read_text(storage.join(artifact_uri, DATA_CHECK_FILE)))


READ_BATCH = 4096


def read_examples(examples: Artifact, split: str, limit: Optional[int] = None):
    """(serialized tf.Examples, pixels [n, H, W, C], labels [n]) of one split of an Examples
    artifact that ImageExampleGen wrote, or of its first `limit` records. Pixels are read as the
    data holds them: integers (as uint8 where they fit, a quarter of a float's memory), or
    floats where an array of floats was given (the gate refuses those; the report still reads
    them)."""
    import tensorflow as tf
    from image_tfx.components import storage
    from image_tfx.model import features
    shape = tuple(image_spec(examples).shape)
    pattern = storage.join(artifact_utils.get_split_uri([examples], split), '*')
    records = tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern)), compression_type='GZIP')
    if limit is not None:
        records = records.take(limit)
    serialized: List[bytes] = []
    pixels, labels = [np.zeros((0, *shape), np.int64)], [np.zeros(0, np.int64)]
    parse_spec = None
    # Parsed a batch at a time (one eager step per record cost more than the parsing), each
    # batch narrowed at once: a whole split as int64 took gigabytes for Fashion-MNIST.
    for batch in records.batch(READ_BATCH):
        batch = batch.numpy()
        if parse_spec is None:
            first = tf.train.Example.FromString(batch[0]).features.feature[features.PIXELS_KEY]
            dtype = tf.float32 if first.WhichOneof('kind') == 'float_list' else tf.int64
            parse_spec = {features.PIXELS_KEY: tf.io.FixedLenFeature(shape, dtype),
                          features.LABEL_KEY: tf.io.FixedLenFeature([1], tf.int64)}
        parsed = tf.io.parse_example(tf.constant(batch, dtype=tf.string), parse_spec)
        values = parsed[features.PIXELS_KEY].numpy()
        if values.dtype == np.int64 and values.size and 0 <= values.min() <= values.max() <= 255:
            values = values.astype(np.uint8)
        serialized.extend(batch)
        pixels.append(values)
        labels.append(parsed[features.LABEL_KEY].numpy().reshape(-1))
    if len(pixels) > 1:
        pixels, labels = pixels[1:], labels[1:]
    return serialized, np.concatenate(pixels), np.concatenate(labels)
