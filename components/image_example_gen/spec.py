"""Component spec of ImageExampleGen: FileBasedExampleGen's parameters plus the source format."""

from tfx.types import standard_component_specs
from tfx.types.component_spec import ExecutionParameter

SOURCE_FORMAT_KEY = 'source_format'
IMAGE_SIZE_KEY = 'image_size'


class ImageExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    """FileBasedExampleGen's spec, with the format of the source (idx, npz, csv or folders)
    recorded.

    The format is an execution property, so ML Metadata shows how each Examples artifact was
    read, and a change of format is never served from the cache.
    """

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        SOURCE_FORMAT_KEY: ExecutionParameter(type=str),
        # 'HxW' or 'HxWxC' to bring every image to that size; '' keeps the data's own.
        IMAGE_SIZE_KEY: ExecutionParameter(type=str, optional=True),
    }
