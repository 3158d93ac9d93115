"""The curated schema agrees with the data, the feature keys, and what SchemaGen would infer."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv

from image_tfx import schema
from image_tfx.components.anomalies_gate import executor as gate
from image_tfx.components.image_example_gen import executor as example_gen
from image_tfx.data import sources
from image_tfx.model import features

# What the curated schema adds to an inferred one: the domains and the serving environment.
CURATED_FIELDS = ('int_domain', 'not_in_environment')


def _statistics(tmp_path, pixels, labels, name='data'):
    """TFDV statistics of tf.Examples made exactly as ImageExampleGen makes them."""
    path = str(tmp_path / f'{name}.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
        for row, label in zip(pixels, labels):
            writer.write(example_gen.to_example(row, int(label)).SerializeToString())
    return tfdv.generate_statistics_from_tfrecord(path, output_path=str(tmp_path / f'{name}.stats'))


@pytest.fixture(scope='module')
def default_data():
    return sources.read_split(sources.detect_source(sources.default_data_path()), 'train')


def test_curated_schema_matches_inferred_schema(tmp_path, default_data):
    inferred = tfdv.infer_schema(_statistics(tmp_path, *default_data), infer_feature_shape=True)
    curated = schema.load_schema()
    # SchemaGen infers a flat value count; the curated shape is [height, width, channels].
    for mine, theirs in zip(sorted(curated.feature, key=lambda f: f.name),
                            sorted(inferred.feature, key=lambda f: f.name)):
        assert np.prod([d.size for d in mine.shape.dim]) == \
            np.prod([d.size for d in theirs.shape.dim])
        mine.ClearField('shape')
        theirs.ClearField('shape')
    for feature in curated.feature:
        for field in CURATED_FIELDS:
            feature.ClearField(field)
    curated.ClearField('default_environment')
    assert {f.name: f for f in curated.feature} == {f.name: f for f in inferred.feature}


def test_schema_names_the_shared_feature_keys():
    curated = {f.name: f for f in schema.load_schema().feature}
    assert set(curated) == {features.PIXELS_KEY, features.LABEL_KEY}
    pixels, label = curated[features.PIXELS_KEY], curated[features.LABEL_KEY]
    assert tuple(d.size for d in pixels.shape.dim) == features.DIGITS_SHAPE
    assert (pixels.int_domain.min, pixels.int_domain.max) == (0, features.MAX_PIXEL)
    assert (label.int_domain.min, label.int_domain.max) == (0, 9)
    assert list(label.not_in_environment) == ['SERVING']


def _anomaly_lines(tmp_path, pixels, labels):
    stats = _statistics(tmp_path, pixels, labels)
    anomalies = tfdv.validate_statistics(stats, schema.load_schema(),
                                         custom_validation_config=schema.load_validations())
    return gate.describe_anomalies({'train': anomalies})


def test_default_data_has_no_anomalies(tmp_path, default_data):
    assert _anomaly_lines(tmp_path, *default_data) == []


def test_inverted_images_are_caught(tmp_path, default_data):
    pixels, labels = default_data
    lines = _anomaly_lines(tmp_path, 255 - pixels[:300], labels[:300])
    assert len(lines) == 1 and 'inverted' in lines[0] and "feature 'pixels'" in lines[0]


def test_images_scaled_to_0_1_are_caught(tmp_path, default_data):
    pixels, labels = default_data
    lines = _anomaly_lines(tmp_path, (pixels[:300] / 255.0).astype(np.float32), labels[:300])
    text = '\n'.join(lines)
    assert "feature 'pixels'" in text
    assert 'FLOAT' in text  # the schema wants INT
    assert 'scaled to 0-1' in text


def test_pixels_out_of_domain_are_caught(tmp_path, default_data):
    pixels, labels = default_data
    bad = pixels[:300].copy()
    bad[5, 3, 16, 0] = 300
    lines = _anomaly_lines(tmp_path, bad, labels[:300])
    assert len(lines) == 1 and "feature 'pixels'" in lines[0] and '300' in lines[0]


def test_schema_is_made_for_the_data_set(tmp_path):
    """DataSchemaGen's executor: the curated constraints, the data's shape and classes."""
    from tfx.types import standard_artifacts
    from image_tfx.components.artifacts import IMAGE_SPEC_PROPERTY
    from image_tfx.components.data_schema import executor as data_schema
    examples = standard_artifacts.Examples()
    examples.set_string_custom_property(IMAGE_SPEC_PROPERTY, sources.ImageSpec(
        46, 40, 3, ('one', 'two', 'zero')).to_json())
    output = standard_artifacts.Schema()
    output.uri = str(tmp_path / 'schema')
    data_schema.Executor().Do({'examples': [examples]}, {'schema': [output]},
                              {'schema_file': schema.SCHEMA_FILE})
    made = schema.load_schema(str(tmp_path / 'schema' / 'schema.pbtxt'))
    assert features.schema_image(made) == ((46, 40, 3), 3)
    # TFDV checks each example's value count against the shape: 28x28x1 digits are 784 values.
    stats = _statistics(tmp_path, np.zeros((20, 784), np.int64) + 200, np.arange(20) % 3)
    lines = gate.describe_anomalies({'train': tfdv.validate_statistics(stats, made)})
    assert len(lines) == 1 and "feature 'pixels'" in lines[0], lines
    curated = {f.name: f for f in schema.load_schema().feature}
    for feature in made.feature:  # nothing else changed
        expected = curated[feature.name]
        expected.ClearField('shape')
        feature.ClearField('shape')
        if feature.name == features.LABEL_KEY:
            expected.int_domain.max = feature.int_domain.max = 0
        assert feature == expected


def test_background_check_is_left_out_for_photos(tmp_path, default_data):
    pixels, labels = default_data
    stats = _statistics(tmp_path, 255 - pixels[:300], labels[:300])
    anomalies = tfdv.validate_statistics(stats, schema.load_schema(), custom_validation_config=(
        schema.load_validations(dark_background=False)))
    assert gate.describe_anomalies({'train': anomalies}) == []
