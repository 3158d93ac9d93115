"""DataSchemaGen's executor: the curated schema, given the data set's image shape and classes.

The curated file (schema/schema.pbtxt) holds every constraint a person chose: presence, the
pixel domain 0-255, the categorical label, the SERVING environment. What depends on the data
set comes from the ImageSpec that ExampleGen recorded on the Examples artifact: the pixels'
shape [height, width, channels] (TFDV checks each example's value count against it, and
Transform and the model read it from the schema) and the label domain 0..classes-1.
"""

import os
from typing import Any, Dict, List

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from image_tfx.components.artifacts import image_spec
from image_tfx.components.data_schema import spec
from image_tfx.data import sources
from image_tfx.model import features

# Where TFX's SchemaGen and ImportSchemaGen write the schema inside a Schema artifact (what
# TFX's schema readers look for).
SCHEMA_FILE_NAME = 'schema.pbtxt'


def adapt(curated: schema_pb2.Schema, image: sources.ImageSpec) -> schema_pb2.Schema:
    """The curated schema with the image shape and the label domain of a data set."""
    schema = schema_pb2.Schema()
    schema.CopyFrom(curated)
    pixels = features.feature_of(schema, features.PIXELS_KEY)
    pixels.shape.ClearField('dim')
    for size in image.shape:
        pixels.shape.dim.add(size=size)
    label = features.feature_of(schema, features.LABEL_KEY)
    label.int_domain.min = 0
    label.int_domain.max = image.num_classes - 1
    return schema


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
        curated = io_utils.SchemaReader().read(exec_properties[spec.SCHEMA_FILE_KEY])
        schema = adapt(curated, image_spec(examples))
        output = artifact_utils.get_single_instance(output_dict[spec.SCHEMA_KEY])
        io_utils.write_pbtxt_file(os.path.join(output.uri, SCHEMA_FILE_NAME), schema)
