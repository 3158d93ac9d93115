"""Executor of TFJSExporter: the trained model as TensorFlow.js, checked where it runs.

It converts the SavedModel's `serving_images` signature to a TF.js graph model (convert.py,
the converter in its own environment), then loads it on the page a person uses (web/) in
Chromium and compares its classes with the SavedModel's on the first TFJS_CHECK_IMAGES images
of a split (browser_check.py). The model card's entry for the format (size, input, agreement,
latency, backend) goes to metrics.json in the blessing; the Pusher pushes only a blessed model.
Without a Chromium on the machine the check is recorded as not run, and the model is blessed.
"""

import json
import tempfile
from typing import Any, Dict, List, Optional, Tuple

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from image_tfx.components import pushed_layout
from image_tfx.components import storage
from image_tfx.components.artifacts import METRICS_FILE
from image_tfx.components.tfjs_exporter import spec
from image_tfx.components.artifacts import read_examples
from image_tfx.components.tflite_validator.executor import saved_model_classes
from image_tfx.data import object_store
from image_tfx.model import export
from image_tfx.model import features

# The TF.js model must give the SavedModel's class on this share of the images, in Chromium.
TFJS_MIN_AGREEMENT = 0.999
# Checked on the first this-many images: enough to show a conversion that went wrong, while
# the browser's software WebGL made a check of every image the longest step of a large run.
TFJS_CHECK_IMAGES = 2000


def convert_and_check(saved_model_dir: str, target: str, pixels, expected_classes,
                      min_agreement: float = TFJS_MIN_AGREEMENT
                      ) -> Tuple[Dict[str, Any], Optional[str]]:
    """Converts to TF.js into `target` and checks it in Chromium.

    Returns (the model card's entry for the format, why it must not be pushed or None); a
    refused model is not written to `target`.
    """
    from image_tfx.components.tfjs_exporter import browser_check, cdp, convert, server
    with tempfile.TemporaryDirectory() as local, tempfile.TemporaryDirectory() as source:
        if object_store.is_remote(saved_model_dir):  # the converter reads local files only
            pushed_layout.copy_saved_model(saved_model_dir, source)
            saved_model_dir = source
        size = convert.convert(saved_model_dir, local)
        entry = {'bytes': size, 'signature': export.IMAGES_SIGNATURE,
                 'input': 'int32 [batch, ' + ', '.join(str(d) for d in features.images_input_shape(
                     pixels.shape[1:])) + '], raw pixels 0-255 (TF.js has no uint8)'}
        chromium = cdp.find_chromium()
        if chromium is None:
            entry['browser_check'] = 'not run: no Chromium on this machine'
        else:
            try:
                measured = browser_check.in_browser(local, None, pixels, expected_classes,
                                                    chromium)
            except (cdp.BrowserError, server.SetupError, OSError) as e:
                entry['browser_check'] = f'failed to run: {e}'
            else:
                entry.update({key: measured[key] for key in (
                    'agreement', 'examples', 'latency_ms', 'backend', 'tfjs_version')
                    if key in measured})
                entry['browser_check'] = 'passed'
                reason = None
                if measured['errors']:
                    reason = f'the TF.js page reported errors in Chromium: {measured["errors"][0]}'
                elif measured['agreement'] < min_agreement:
                    reason = (f'the TF.js model gives the SavedModel\'s class on '
                              f'{measured["agreement"]:.2%} of {measured["examples"]} images in '
                              f'Chromium, below {min_agreement:.2%} (--min-tfjs-agreement)')
                if reason:
                    entry['browser_check'] = f'FAILED: {reason}'
                    return entry, reason
        storage.copy_tree(local, target)
    return entry, None


class Executor(base_executor.BaseExecutor):
    """Converts, checks in Chromium, and blesses (or not) the TF.js model."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        import tensorflow as tf
        model = artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
        tfjs_model = artifact_utils.get_single_instance(output_dict[spec.TFJS_MODEL_KEY])
        blessing = artifact_utils.get_single_instance(output_dict[spec.BLESSING_KEY])
        saved_model = path_utils.serving_model_dir(model.uri)
        # Only the images the check uses: it may run beside the Evaluator, in the same process.
        serialized, pixels, _ = read_examples(examples, exec_properties[spec.SPLIT_KEY],
                                              limit=TFJS_CHECK_IMAGES)
        expected = saved_model_classes(tf.saved_model.load(saved_model), serialized)
        storage.makedirs(tfjs_model.uri)
        min_agreement = exec_properties.get(spec.MIN_AGREEMENT_KEY)
        entry, refused = convert_and_check(
            saved_model, tfjs_model.uri, pixels, expected,
            TFJS_MIN_AGREEMENT if min_agreement is None else min_agreement)
        storage.makedirs(blessing.uri)
        storage.write_text(storage.join(blessing.uri, METRICS_FILE), json.dumps(entry, indent=2))
        blessing.set_int_custom_property('blessed', 0 if refused else 1)
        if refused:
            blessing.set_string_custom_property('reasons', refused)
