"""AnomaliesGate's executor on artifacts laid out as ExampleValidator and StatisticsGen write them.

Statistics are TFDV's own, computed from real digits (and Fashion-MNIST) with the curated
schema, as StatisticsGen computes them in the pipeline.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.components.example_validator import executor as example_validator_executor
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from conftest import require_system_tool
from image_tfx import schema as schema_lib
from image_tfx.components.anomalies_gate import executor as gate
from image_tfx.components.anomalies_gate import spec
from image_tfx.components.anomalies_gate import thresholds
from image_tfx.components.artifacts import DATA_CHECK_FILE, DUPLICATES_PROPERTY, DataCheck
from image_tfx.components.image_example_gen import executor as example_gen
from image_tfx.data import sources

FASHION = '/usr/share/datasets/fashion-mnist'


def _split_artifact(artifact, uri, by_split, file_name):
    artifact.uri = str(uri)
    artifact.split_names = artifact_utils.encode_split_names(list(by_split))
    for split, proto in by_split.items():
        split_dir = os.path.join(artifact.uri, f'Split-{split}')
        os.makedirs(split_dir)
        with open(os.path.join(split_dir, file_name), 'wb') as f:
            f.write(proto.SerializeToString())
    return artifact


def _anomalies_artifact(tmp_path, by_split):
    uri = tmp_path / f'anomalies-{len(list(tmp_path.glob("anomalies-*")))}'
    return _split_artifact(standard_artifacts.ExampleAnomalies(), uri, by_split,
                           example_validator_executor.DEFAULT_FILE_NAME)


def _stats(tmp_path, pixels, labels, name):
    """TFDV statistics of tf.Examples made as ImageExampleGen makes them, with the schema."""
    path = str(tmp_path / f'{name}.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
        for row, label in zip(pixels, labels):
            writer.write(example_gen.to_example(row, int(label)).SerializeToString())
    return tfdv.generate_statistics_from_tfrecord(
        path, output_path=str(tmp_path / f'{name}.stats'),
        stats_options=tfdv.StatsOptions(schema=schema_lib.load_schema()))


def _stats_artifact(tmp_path, name, by_split, version=None):
    """An ExampleStatistics artifact; `version` makes it a baseline's (a pushed version's)."""
    artifact = _split_artifact(standard_artifacts.ExampleStatistics(), tmp_path / name,
                               by_split, stats_artifact_utils.BINARY_PB_BASENAME)
    if version is not None:
        artifact.set_string_custom_property(gate.BASELINE_VERSION_PROPERTY, version)
    return artifact


def _schema_artifact(tmp_path):
    artifact = standard_artifacts.Schema()
    artifact.uri = str(tmp_path / 'schema')
    os.makedirs(artifact.uri, exist_ok=True)
    tfdv.write_schema_text(schema_lib.load_schema(), os.path.join(artifact.uri, 'schema.pbtxt'))
    return artifact


@pytest.fixture(scope='module')
def default_data(digits):
    """The 5,000 shipped digits in a fixed random order, as pixel rows."""
    images, labels = digits
    return images.reshape(len(images), -1).astype(np.int64), labels


def _run(tmp_path, statistics, baseline=None, anomalies=None, duplicates=None, **properties):
    splits = artifact_utils.decode_split_names(statistics.split_names)
    anomalies = anomalies or _anomalies_artifact(
        tmp_path, {s: anomalies_pb2.Anomalies() for s in splits})
    baseline = baseline or _stats_artifact(tmp_path, 'no-baseline', {}, version='')
    result = DataCheck()
    result.uri = str(tmp_path / f'result-{len(list(tmp_path.glob("result-*")))}')
    exec_properties = {spec.MAX_CLASS_SHARE_KEY: thresholds.MAX_CLASS_SHARE,
                       spec.MAX_LABEL_DRIFT_KEY: thresholds.MAX_LABEL_DRIFT,
                       spec.MAX_PIXEL_DRIFT_KEY: thresholds.MAX_PIXEL_DRIFT,
                       spec.ALLOW_DRIFT_KEY: 0, **properties}
    inputs = {spec.ANOMALIES_KEY: [anomalies], spec.STATISTICS_KEY: [statistics],
              spec.SCHEMA_KEY: [_schema_artifact(tmp_path)],
              spec.BASELINE_STATISTICS_KEY: [baseline]}
    if duplicates is not None:
        examples = standard_artifacts.Examples()
        examples.set_string_custom_property(DUPLICATES_PROPERTY, json.dumps(duplicates))
        inputs[spec.EXAMPLES_KEY] = [examples]
    gate.Executor().Do(inputs, {spec.RESULT_KEY: [result]}, exec_properties)
    with open(os.path.join(result.uri, DATA_CHECK_FILE)) as f:
        return json.load(f)


def _fails(tmp_path, statistics, **kwargs) -> str:
    with pytest.raises(gate.AnomaliesFoundError) as error:
        _run(tmp_path, statistics, **kwargs)
    return str(error.value)


def test_clean_data_passes_and_its_label_counts_are_recorded(tmp_path, default_data):
    pixels, labels = default_data
    statistics = _stats_artifact(tmp_path, 'stats', {
        'train': _stats(tmp_path, pixels[:4000], labels[:4000], 'train'),
        'eval': _stats(tmp_path, pixels[4000:], labels[4000:], 'eval')})
    result = _run(tmp_path, statistics)
    assert result['label_counts']['eval'] == {
        str(c): int(n) for c, n in enumerate(np.bincount(labels[4000:], minlength=10))}
    assert sum(result['label_counts']['train'].values()) == 4000
    assert result['drift'] == [] and result['baseline_version'] is None
    assert result['baseline'].startswith('nothing pushed yet')


def test_one_class_data_is_stopped_naming_split_class_and_counts(tmp_path, default_data):
    # What a CSV with the label in another column than the reader's gives: every label 0.
    pixels, _ = default_data
    statistics = _stats_artifact(tmp_path, 'stats', {
        'train': _stats(tmp_path, pixels[:300], np.zeros(300), 'train'),
        'eval': _stats(tmp_path, pixels[300:400], np.zeros(100), 'eval')})
    message = _fails(tmp_path, statistics)
    assert "split 'train': class 0 holds 300 of 300 examples (100.0%), more than the allowed " \
        '50% (--max-class-share)' in message
    assert "split 'eval': no examples of class 1, 2, 3, 4, 5, 6, 7, 8, 9 (100 examples: 0: 100," \
        in message


def test_a_missing_class_is_stopped(tmp_path, default_data):
    pixels, labels = default_data
    keep = labels[:1000] != 7
    statistics = _stats_artifact(tmp_path, 'stats', {
        'train': _stats(tmp_path, pixels[:1000][keep], labels[:1000][keep], 'train'),
        'eval': _stats(tmp_path, pixels[4000:], labels[4000:], 'eval')})
    message = _fails(tmp_path, statistics)
    assert "split 'train': no examples of class 7 (" in message and '7: 0' in message
    assert "'eval'" not in message


def test_the_share_bound_is_configurable(tmp_path, default_data):
    pixels, labels = default_data
    statistics = _stats_artifact(tmp_path, 'stats', {
        'train': _stats(tmp_path, pixels[:500], labels[:500], 'train')})
    assert 'more than the allowed 5%' in _fails(tmp_path, statistics,
                                                **{spec.MAX_CLASS_SHARE_KEY: 0.05})


def test_same_data_resplit_does_not_drift(tmp_path, default_data):
    pixels, labels = default_data
    order = np.random.RandomState(3).permutation(len(labels))
    baseline = _stats_artifact(tmp_path, 'baseline', {
        'train': _stats(tmp_path, pixels[:4000], labels[:4000], 'a')}, version='17')
    statistics = _stats_artifact(tmp_path, 'stats', {
        'train': _stats(tmp_path, pixels[order[:4000]], labels[order[:4000]], 'b')})
    result = _run(tmp_path, statistics, baseline=baseline)
    assert result['baseline_version'] == '17'
    assert {m['feature'] for m in result['drift']} == {'label', 'pixels'}
    assert not any(m['drifted'] for m in result['drift'])


@pytest.fixture(scope='module')
def fashion():
    require_system_tool(os.path.isdir(FASHION), 'dataset-fashion-mnist')
    return sources.read_split(sources.detect_source(FASHION), 'train')


def test_fashion_after_digits_is_stopped_unless_allowed(tmp_path, default_data, fashion):
    pixels, labels = default_data
    baseline = _stats_artifact(tmp_path, 'baseline', {
        'train': _stats(tmp_path, pixels[:4000], labels[:4000], 'digits')}, version='1795')
    statistics = _stats_artifact(tmp_path, 'stats', {
        'train': _stats(tmp_path, fashion[0][:4000], fashion[1][:4000], 'fashion')})
    message = _fails(tmp_path, statistics, baseline=baseline)
    assert ("split 'train', feature 'pixels': drifted from the data of pushed version 1795: "
            'Jensen-Shannon divergence') in message
    assert '(--max-pixel-drift); mean pixel 33.' in message and '--allow-drift' in message
    assert "feature 'label'" not in message  # both are balanced over 10 classes

    result = _run(tmp_path, statistics, baseline=baseline, **{spec.ALLOW_DRIFT_KEY: 1})
    pixel_drift = next(m for m in result['drift'] if m['feature'] == 'pixels')
    assert pixel_drift['drifted'] and pixel_drift['value'] > 0.05
    assert result['drift_allowed'] is True


def test_label_drift_names_the_class_that_moved(tmp_path, default_data):
    pixels, labels = default_data
    baseline = _stats_artifact(tmp_path, 'baseline', {
        'train': _stats(tmp_path, pixels[:2000], labels[:2000], 'a')}, version='5')
    # Every 3 repeated three times: its share goes from 10% to about 25%.
    threes = np.flatnonzero(labels[2000:4000] == 3) + 2000
    index = np.concatenate([np.arange(2000, 4000), threes, threes])
    statistics = _stats_artifact(tmp_path, 'stats', {
        'train': _stats(tmp_path, pixels[index], labels[index], 'b')})
    message = _fails(tmp_path, statistics, baseline=baseline)
    assert "feature 'label': drifted from the data of pushed version 5: L-infinity distance" \
        in message
    assert 'most: class 3, 10.' in message


def test_gate_fails_naming_split_feature_and_rule(tmp_path, default_data):
    pixels, labels = default_data
    statistics = _stats_artifact(tmp_path, 'stats', {
        'train': _stats(tmp_path, pixels[:500], labels[:500], 'train')})
    message = _fails(tmp_path, statistics,
                     anomalies=_anomalies_artifact(tmp_path, {'train': _out_of_range()}))
    assert "split 'train', feature 'pixels': Out-of-range values: Unexpectedly large value: " \
        '300.' in message


def _out_of_range():
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info['pixels']
    reason = info.reason.add()
    reason.type = anomalies_pb2.AnomalyInfo.INT_TYPE_BIG_INT
    reason.short_description = 'Out-of-range values'
    reason.description = 'Unexpectedly large value: 300.'
    return anomalies


def test_custom_validation_is_described_by_its_rule():
    anomalies = anomalies_pb2.Anomalies()
    reason = anomalies.anomaly_info['pixels'].reason.add()
    reason.short_description = 'the images look inverted'
    reason.description = 'Custom validation triggered anomaly. Query: feature.num_stats.mean <= 1'
    assert gate.describe_anomalies({'train': anomalies}) == [
        "split 'train', feature 'pixels': the images look inverted"]


def test_a_test_split_that_copies_training_images_is_stopped(tmp_path, default_data):
    """Copies of train images in the test split (ExampleGen's `duplicates`) beyond
    --max-duplicate-share stop the run in one line naming a few; below it they are recorded
    (and copies inside one split only reported)."""
    from image_tfx.records import summary
    pixels, labels = default_data
    statistics = _stats_artifact(tmp_path, 'stats', {
        'train': _stats(tmp_path, pixels[:4000], labels[:4000], 'train'),
        'eval': _stats(tmp_path, pixels[4000:], labels[4000:], 'eval')})
    duplicates = {'images': {'train': 4000, 'test': 100}, 'across': {'train/test': 50},
                  'within': {'train': 3, 'test': 0},
                  'across_examples': [[f'test/a/{i}.png', f'train/a/{i}.png'] for i in range(5)],
                  'within_examples': [['train/b/x.png', 'train/b/y.png']]}
    message = _fails(tmp_path, statistics, duplicates=duplicates)
    (line,) = [x for x in message.splitlines() if 'copies' in x]
    assert line.strip() == ("split 'test': 50 of 100 images (50.0%) are exact copies of train "
                            'images, above 1.0% (--max-duplicate-share), e.g. test/a/0.png = '
                            'train/a/0.png; test/a/1.png = train/a/1.png; test/a/2.png = '
                            'train/a/2.png')
    result = _run(tmp_path, statistics, duplicates=duplicates,
                  **{spec.MAX_DUPLICATE_SHARE_KEY: 0.6})
    assert result['duplicates'] == duplicates
    assert summary.format_duplicates(result['duplicates']) == (
        '50 of 100 test images are copies of train images (e.g. test/a/0.png = train/a/0.png); '
        'copies within a split: train 3 (same decoded pixels; a re-encoded copy is not caught)')
    # Copies within one split alone do not stop it.
    within = dict(duplicates, across={'train/test': 0}, across_examples=[])
    assert _run(tmp_path, statistics, duplicates=within)['duplicates'] == within
