"""Feature keys and shapes, shared by ExampleGen, the schema, Transform, the model and TFMA.

Anything that names a feature imports it from here, so a rename cannot leave one stage behind.
tests/test_schema.py checks that schema/schema.pbtxt agrees with these names.
"""

PIXELS_KEY = 'pixels'
LABEL_KEY = 'label'

IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
NUM_CLASSES = 10
MAX_PIXEL = 255


def transformed_name(key: str) -> str:
    """Name of a feature after Transform (`pixels` -> `pixels_xf`)."""
    return f'{key}_xf'
