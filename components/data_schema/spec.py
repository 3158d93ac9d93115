"""Spec of DataSchemaGen: the curated schema file and the data set's Examples in, a Schema out."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

SCHEMA_FILE_KEY = 'schema_file'
EXAMPLES_KEY = 'examples'
SCHEMA_KEY = 'schema'


class DataSchemaGenSpec(ComponentSpec):
    PARAMETERS = {SCHEMA_FILE_KEY: ExecutionParameter(type=str)}
    INPUTS = {EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema)}
