"""Artifact types of this pipeline's own components.

They are types of their own, not TFX's Model and ModelBlessing, so that the baseline resolver,
which looks up every Model and ModelBlessing of the pipeline, never mistakes a TFLite export or
its check for a trained model or the Evaluator's blessing. Their names carry a namespace
(`image_tfx.`), the form Kubeflow's v2 compiler requires of custom artifact types; Kubeflow's
container entrypoint imports a custom type by that name, which image_tfx/__init__.py answers.
"""

from typing import Any, Dict

from tfx.types import artifact_utils
from tfx.types.artifact import Artifact

# Custom property of ExampleGen's Examples artifact: the data set's ImageSpec as JSON.
IMAGE_SPEC_PROPERTY = 'image_spec'
# A blessing's figures (TFLiteBlessing, TFJSBlessing), beside its verdict (custom property
# `blessed`).
METRICS_FILE = 'metrics.json'


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
