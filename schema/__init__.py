"""The curated schema and custom validations, shipped as package data.

`schema.pbtxt` is made for each data set by DataSchemaGen (image shape, classes); the
`validations.pbtxt` (TFDV SQL custom validations) are given to ExampleValidator.
"""

import os

from google.protobuf import text_format

SCHEMA_DIR = os.path.dirname(os.path.abspath(__file__))
SCHEMA_FILE = os.path.join(SCHEMA_DIR, 'schema.pbtxt')
VALIDATIONS_FILE = os.path.join(SCHEMA_DIR, 'validations.pbtxt')


def load_schema(path: str = SCHEMA_FILE):
    """The schema as a tensorflow_metadata Schema proto."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    with open(path) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


# The one validation that holds for MNIST-style arrays only: photos have light backgrounds.
DARK_BACKGROUND_MARKER = 'the images look inverted'


def load_validations(path: str = VALIDATIONS_FILE, dark_background: bool = True):
    """The custom validations as a TFDV CustomValidationConfig proto.

    dark_background False leaves out the check that images are light strokes on a dark
    background (MNIST's convention, which a folder of photos does not follow).
    """
    from tensorflow_data_validation.anomalies.proto import (
        custom_validation_config_pb2)
    with open(path) as f:
        config = text_format.Parse(f.read(), custom_validation_config_pb2.CustomValidationConfig())
    if not dark_background:
        for feature in config.feature_validations:
            kept = [v for v in feature.validations if DARK_BACKGROUND_MARKER not in v.description]
            del feature.validations[:]
            feature.validations.extend(kept)
    return config
