"""Feature keys and the image shape conventions, shared by ExampleGen, the schema, Transform,
the model, the exports and TFMA.

Anything that names a feature imports it from here, so a rename cannot leave one stage behind.
tests/test_schema.py checks that schema/schema.pbtxt agrees with these names. An image's size,
channels and class count are the data set's (data/sources.ImageSpec), carried by the schema.
"""

from typing import Sequence, Tuple

import numpy as np

PIXELS_KEY = 'pixels'
LABEL_KEY = 'label'

MAX_PIXEL = 255
# The shipped digits' shape (MNIST): height, width, channels.
DIGITS_SHAPE = (28, 28, 1)


# How a client turns a picture into the model's input image (the model card's `preparation`):
# MNIST's own recipe (grayscale, strokes centred in 28x28) for models of MNIST-style arrays, a
# plain resize for models of image folders (data/images.to_shape, as ExampleGen did).
PREPARE_MNIST, PREPARE_RESIZE = 'mnist', 'resize'


def preparation_for(source_format: str) -> str:
    from image_tfx.data.sources import FORMAT_FOLDERS
    return PREPARE_RESIZE if source_format == FORMAT_FOLDERS else PREPARE_MNIST


def transformed_name(key: str) -> str:
    """Name of a feature after Transform (`pixels` -> `pixels_xf`)."""
    return f'{key}_xf'


def images_input_shape(shape: Sequence[int]) -> Tuple[int, ...]:
    """One raw image as the `serving_images` signature takes it: [H, W] for grayscale (as
    MNIST's arrays hold it), [H, W, C] for colour."""
    height, width, channels = shape
    return (height, width) if channels == 1 else (height, width, channels)


def as_images_input(pixels: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Pixels (any layout of N x H x W x C values 0-255) as the raw-image signature's uint8."""
    return np.asarray(pixels).reshape(-1, *images_input_shape(shape)).astype(np.uint8)


def feature_of(schema, name: str):
    found = [f for f in schema.feature if f.name == name]
    if not found:
        raise ValueError(f'the schema has no feature {name!r}')
    return found[0]


def schema_image(schema) -> Tuple[Tuple[int, int, int], int]:
    """((height, width, channels), number of classes) from a schema (a tensorflow_metadata
    Schema proto) that DataSchemaGen wrote: the pixels' shape and the label's domain."""
    dims = tuple(d.size for d in feature_of(schema, PIXELS_KEY).shape.dim)
    if len(dims) != 3:
        raise ValueError(f'the schema gives {PIXELS_KEY} the shape {list(dims)}; expected '
                         '[height, width, channels]')
    label = feature_of(schema, LABEL_KEY).int_domain
    return dims, int(label.max) + 1
