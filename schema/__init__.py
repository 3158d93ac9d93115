"""The curated schema and custom validations, shipped as package data.

`schema.pbtxt` is loaded by ImportSchemaGen; `validations.pbtxt` (TFDV SQL custom validations)
is given to ExampleValidator.
"""

import os

from google.protobuf import text_format

SCHEMA_DIR = os.path.dirname(os.path.abspath(__file__))
SCHEMA_FILE = os.path.join(SCHEMA_DIR, 'schema.pbtxt')
VALIDATIONS_FILE = os.path.join(SCHEMA_DIR, 'validations.pbtxt')


def load_schema(path: str = SCHEMA_FILE):
    """The schema as a tensorflow_metadata Schema proto."""
    from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
    with open(path) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def load_validations(path: str = VALIDATIONS_FILE):
    """The custom validations as a TFDV CustomValidationConfig proto."""
    from tensorflow_data_validation.anomalies.proto import (  # pylint: disable=g-import-not-at-top
        custom_validation_config_pb2)
    with open(path) as f:
        return text_format.Parse(f.read(), custom_validation_config_pb2.CustomValidationConfig())
