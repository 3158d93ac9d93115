"""DataSchemaGen: the curated schema made for the data set at hand (ImportSchemaGen's role)."""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts

from image_tfx.components.data_schema import executor
from image_tfx.components.data_schema.spec import DataSchemaGenSpec


class DataSchemaGen(base_component.BaseComponent):
    """Outputs `schema`: schema_file's constraints, with the image shape and label domain that
    ExampleGen recorded for `examples`.

    Like ImportSchemaGen, nothing is inferred: a data set that breaks the curated constraints is
    an anomaly for ExampleValidator, not a reason to loosen the schema.
    """

    SPEC_CLASS = DataSchemaGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, schema_file: str):
        super().__init__(spec=DataSchemaGenSpec(
            examples=examples, schema_file=schema_file,
            schema=types.Channel(type=standard_artifacts.Schema)))
