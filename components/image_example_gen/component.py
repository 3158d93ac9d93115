"""ImageExampleGen: a file-based ExampleGen for image data sets (IDX, npz, CSV, image folders)."""

from typing import Optional

from tfx import types
from tfx.components.example_gen import driver
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts

from image_tfx.components.image_example_gen import executor
from image_tfx.components.image_example_gen.spec import ImageExampleGenSpec

SOURCE_SPLIT_NAME = 'source'


class ImageExampleGen(base_beam_component.BaseBeamComponent):
    """Turns an image data set into tf.Examples split into train, eval and (if present) test.

    It uses TFX's FileBasedDriver, so input files are fingerprinted and spans resolved like any
    file-based ExampleGen, and its output is one Examples artifact in ML Metadata.
    """

    SPEC_CLASS = ImageExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = driver.FileBasedDriver

    def __init__(self, input_base: str, source_format: str, pattern: str,
                 train_buckets: int = 4, eval_buckets: int = 1, image_size: str = '',
                 output_config: Optional[example_gen_pb2.Output] = None):
        """Builds the component for a data source (see `sources.detect_source`).

        Args:
          input_base: the directory that holds the data set.
          source_format: one of `sources.FORMATS`.
          pattern: the file pattern, relative to input_base, that matches the data set's files.
          train_buckets: hash buckets of the train source split that become `train`.
          eval_buckets: hash buckets that become `eval` (4:1 gives a 80/20 split).
          image_size: 'HxW' or 'HxWxC' to bring every image to that size ('' keeps the data's).
          output_config: overrides the train/eval split config entirely when given.
        """
        input_config = example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name=SOURCE_SPLIT_NAME, pattern=pattern)])
        output_config = output_config or example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=[
                example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=train_buckets),
                example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=eval_buckets),
            ]))
        spec = ImageExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            source_format=source_format,
            image_size=image_size or None,
            examples=types.Channel(type=standard_artifacts.Examples))
        super().__init__(spec=spec)
