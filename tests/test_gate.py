"""AnomaliesGate's executor on ExampleAnomalies artifacts laid out as ExampleValidator writes them."""

import os

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from mnist_tfx.components.anomalies_gate import executor as gate
from mnist_tfx.components.anomalies_gate.spec import ANOMALIES_KEY


def _anomalies_artifact(tmp_path, by_split):
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path / 'anomalies')
    artifact.split_names = artifact_utils.encode_split_names(list(by_split))
    for split, anomalies in by_split.items():
        split_dir = os.path.join(artifact.uri, f'Split-{split}')
        os.makedirs(split_dir)
        with open(os.path.join(split_dir, gate.ANOMALIES_FILE), 'wb') as f:
            f.write(anomalies.SerializeToString())
    return artifact


def _out_of_range():
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info['pixels']
    reason = info.reason.add()
    reason.type = anomalies_pb2.AnomalyInfo.INT_TYPE_BIG_INT
    reason.short_description = 'Out-of-range values'
    reason.description = 'Unexpectedly large value: 300.'
    return anomalies


def _run(artifact):
    gate.Executor().Do({ANOMALIES_KEY: [artifact]}, {}, {})


def test_gate_passes_clean_data(tmp_path):
    _run(_anomalies_artifact(tmp_path, {'train': anomalies_pb2.Anomalies(),
                                        'eval': anomalies_pb2.Anomalies()}))


def test_gate_fails_naming_split_feature_and_rule(tmp_path):
    artifact = _anomalies_artifact(tmp_path, {'train': anomalies_pb2.Anomalies(),
                                              'eval': _out_of_range()})
    with pytest.raises(gate.AnomaliesFoundError) as error:
        _run(artifact)
    message = str(error.value)
    assert "split 'eval', feature 'pixels': Out-of-range values: Unexpectedly large value: 300." \
        in message
    assert "'train'" not in message


def test_custom_validation_is_described_by_its_rule():
    anomalies = anomalies_pb2.Anomalies()
    reason = anomalies.anomaly_info['pixels'].reason.add()
    reason.short_description = 'the images look inverted'
    reason.description = 'Custom validation triggered anomaly. Query: feature.num_stats.mean <= 1'
    assert gate.describe_anomalies({'train': anomalies}) == [
        "split 'train', feature 'pixels': the images look inverted"]
