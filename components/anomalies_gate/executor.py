"""Executor of AnomaliesGate: fails the run, naming each broken rule, when data has anomalies.

ExampleValidator only records anomalies; on its own a pipeline would go on to train on bad
data. This executor turns anomalies into a failed execution, so downstream components that
depend on the gate (Transform, and through it Trainer, Evaluator and Pusher) never run.
"""

import os
from typing import Any, Dict, List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from mnist_tfx.components import storage
from mnist_tfx.components.anomalies_gate.spec import ANOMALIES_KEY

# Where ExampleValidator writes each split's anomalies (tfx.components.example_validator).
ANOMALIES_FILE = 'SchemaDiff.pb'


class AnomaliesFoundError(RuntimeError):
    """The data broke the schema or a custom validation; the message lists what and where."""


def load_anomalies(artifact: types.Artifact) -> Dict[str, anomalies_pb2.Anomalies]:
    """Anomalies of every split of an ExampleAnomalies artifact, by split name."""
    result = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        path = os.path.join(artifact_utils.get_split_uri([artifact], split), ANOMALIES_FILE)
        result[split] = anomalies_pb2.Anomalies.FromString(storage.read_bytes(path))
    return result


def _reason_text(reason) -> str:
    # TFDV's description of a custom validation only repeats its SQL; its short description is
    # the rule's own text from schema/validations.pbtxt.
    if reason.description and not reason.description.startswith('Custom validation'):
        return f'{reason.short_description}: {reason.description}'
    return reason.short_description or reason.description


def describe_anomalies(by_split: Dict[str, anomalies_pb2.Anomalies]) -> List[str]:
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


class Executor(base_executor.BaseExecutor):
    """Raises AnomaliesFoundError when any split has anomalies; otherwise does nothing."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        del output_dict, exec_properties
        lines = describe_anomalies(
            load_anomalies(artifact_utils.get_single_instance(input_dict[ANOMALIES_KEY])))
        if lines:
            raise AnomaliesFoundError(
                'the data does not match the schema, so nothing was trained or pushed:\n  '
                + '\n  '.join(lines))
