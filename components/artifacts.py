"""Artifact types of this pipeline's own components.

They are types of their own, not TFX's Model and ModelBlessing, so that the baseline resolver,
which looks up every Model and ModelBlessing of the pipeline, never mistakes a TFLite export or
its check for a trained model or the Evaluator's blessing. Their names carry a namespace
(`mnist_tfx.`), the form Kubeflow's v2 compiler requires of custom artifact types; Kubeflow's
container entrypoint imports a custom type by that name, which mnist_tfx/__init__.py answers.
"""

import os
from typing import Dict

from tfx.types import artifact_utils
from tfx.types.artifact import Artifact


class TFLiteModel(Artifact):
    """A folder holding model_float32.tflite and model_int8.tflite of one trained model."""
    TYPE_NAME = 'mnist_tfx.TFLiteModel'


class TFLiteBlessing(Artifact):
    """The TFLite check's verdict and figures (metrics.json) for one TFLiteModel."""
    TYPE_NAME = 'mnist_tfx.TFLiteBlessing'


def example_counts(statistics: Artifact) -> Dict[str, int]:
    """Examples per split, from an ExampleStatistics artifact (StatisticsGen's output)."""
    import tensorflow_data_validation as tfdv  # pylint: disable=g-import-not-at-top
    counts = {}
    for split in artifact_utils.decode_split_names(statistics.split_names):
        stats = tfdv.load_stats_binary(os.path.join(
            artifact_utils.get_split_uri([statistics], split), 'FeatureStats.pb'))
        counts[split] = int(stats.datasets[0].num_examples) if stats.datasets else 0
    return counts




class DataCheck(Artifact):
    """The validator gate's findings (data_check.json): label counts per split, drift figures
    against the data of the last pushed model, and which pushed version that was."""
    TYPE_NAME = 'mnist_tfx.DataCheck'
