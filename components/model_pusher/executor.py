"""Executor of ModelPusher: one version folder per blessed model, written whole or not at all.

The version folder is the SavedModel, as TF Serving serves it; the other formats, the labels,
the model card, the training data's statistics and TF Serving's warm-up requests go in its
`assets.extra/` (components/pushed_layout.py lists it all).

The folder is assembled under a hidden name (not a number, so TF Serving skips it) and then
published (pushed_layout.publish: a rename on a local disk; on object storage, where a rename
copies object by object, `saved_model.pb` goes last), so a crash never leaves a version that
looks finished. The PushedModel artifact
records the folder, the version and a manifest (file -> bytes and SHA-256) of every file in it,
so any pushed file leads back to its run through ML Metadata.
"""

import json
import time
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import path_utils

from image_tfx.components import pushed_layout
from image_tfx.components import storage
from image_tfx.components.artifacts import example_counts, image_spec
from image_tfx.components.model_pusher import spec
from image_tfx.components.model_pusher import warmup
from image_tfx.components.artifacts import FLOAT32_FILE, INT8_FILE, METRICS_FILE
from image_tfx.components.artifacts import load_data_check, read_examples
from image_tfx.model import export
from image_tfx.model import features

# The SavedModel's name among the formats of the model card (it is the version folder itself).
SAVED_MODEL = 'saved_model'
MODEL_CARD_FILE = pushed_layout.MODEL_CARD_FILE
MANIFEST_FILE = 'manifest.json'


def _blessed(artifact: types.Artifact) -> bool:
    return artifact.get_int_custom_property('blessed') == 1


def not_pushed_reasons(model_blessing: types.Artifact, tflite_blessing: types.Artifact,
                       tfjs_blessing: Optional[types.Artifact] = None) -> List[str]:
    """Why a model must not be pushed; empty when every check blessed it."""
    reasons = []
    if not _blessed(model_blessing):
        reasons.append('the Evaluator did not bless the model')
    for name, blessing in (('TFLite', tflite_blessing), ('TF.js', tfjs_blessing)):
        if blessing is not None and not _blessed(blessing):
            reasons.append(f'the {name} check failed: '
                           + (blessing.get_string_custom_property('reasons') or 'see metrics'))
    return reasons


def model_card(version: str, class_names: List[str], metrics: Dict[str, Any],
               int8_quantization, model: types.Artifact, statistics: types.Artifact,
               examples: types.Artifact, sizes: Dict[str, int],
               data_check: Dict[str, Any]) -> Dict[str, Any]:
    """What a user of the pushed folder needs to know about it."""
    scale, zero_point = int8_quantization
    shape = list(image_spec(examples).shape)
    images = ', '.join(str(d) for d in features.images_input_shape(shape))
    return {
        'version': version,
        'classes': class_names,
        'image': {'height': shape[0], 'width': shape[1], 'channels': shape[2]},
        'preparation': features.preparation_for(
            examples.get_string_custom_property('source_format')),
        'inputs': {
            SAVED_MODEL: {
                export.DEFAULT_SIGNATURE: 'examples: string [batch], serialized tf.Example with '
                                          f'"{features.PIXELS_KEY}": int64 x '
                                          f'{shape[0] * shape[1] * shape[2]} (0-255, row-major '
                                          'height x width x channels)',
                export.IMAGES_SIGNATURE: f'images: uint8 [batch, {images}], raw pixels',
                'outputs': f'{export.PREDICTION_KEY}: float32 [batch, {len(class_names)}], '
                           f'{export.CLASS_IDS_KEY}: int64 [batch]',
            },
            FLOAT32_FILE: {'dtype': 'float32', 'shape': [1, *shape],
                           'values': 'pixels / 255',
                           'output': f'float32 [1, {len(class_names)}] probabilities'},
            INT8_FILE: {'dtype': 'uint8', 'shape': [1, *shape],
                        'quantization': {'scale': scale, 'zero_point': zero_point},
                        'values': 'round(pixels / 255 / scale + zero_point): the raw pixel',
                        'output': f'uint8 [1, {len(class_names)}] quantized probabilities'},
        },
        'formats': {
            SAVED_MODEL: {**metrics['saved_model'], 'bytes': sizes[SAVED_MODEL]},
            FLOAT32_FILE: metrics['float32'],
            INT8_FILE: metrics['int8'],
        },
        'evaluated_on': {'split': metrics['split'], 'examples': metrics['examples']},
        # The data set's own test split, scored by the TFLite check (the blessing is eval's).
        'test_split': metrics.get('test'),
        'data': {
            'examples_uri': examples.uri,
            'examples_mlmd_artifact_id': examples.id,
            'input_fingerprint': examples.get_string_custom_property('input_fingerprint'),
            'examples_per_split': example_counts(statistics),
            'label_counts_per_split': data_check.get('label_counts', {}),
            'statistics_uri': statistics.uri,
            'duplicates': data_check.get('duplicates'),
            'drift': {'baseline': data_check.get('baseline'),
                      'measurements': data_check.get('drift', []),
                      'allowed_by_user': data_check.get('drift_allowed', False)},
        },
        'trained_model': {'uri': model.uri, 'mlmd_artifact_id': model.id},
    }


def _model_name(base_directory: str) -> str:
    """The name TF Serving serves the base directory under (its folder name, by convention)."""
    return base_directory.rstrip('/').rsplit('/', 1)[-1]


def _new_version(base_directory: str) -> str:
    version = int(time.time())
    while fileio.exists(storage.join(base_directory, str(version))):
        version += 1
    return str(version)


def _int8_quantization(int8_file: str):
    from image_tfx.model.tflite import TFLiteClassifier
    scale, zero_point = TFLiteClassifier(int8_file).input['quantization']
    return float(scale), int(zero_point)


class Executor(base_executor.BaseExecutor):
    """Pushes SavedModel, TFLite models, labels and model card when both checks blessed."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        get = lambda key: artifact_utils.get_single_instance(input_dict[key])  # noqa: E731
        model, tflite_model = get(spec.MODEL_KEY), get(spec.TFLITE_MODEL_KEY)
        tflite_blessing = get(spec.TFLITE_BLESSING_KEY)
        tfjs_model, tfjs_blessing = get(spec.TFJS_MODEL_KEY), get(spec.TFJS_BLESSING_KEY)
        pushed = artifact_utils.get_single_instance(output_dict[spec.PUSHED_MODEL_KEY])
        tfjs = json.loads(storage.read_text(storage.join(tfjs_blessing.uri, METRICS_FILE)))
        pushed.set_string_custom_property('tfjs', json.dumps(tfjs))

        reasons = not_pushed_reasons(get(spec.MODEL_BLESSING_KEY), tflite_blessing,
                                     tfjs_blessing)
        if reasons:
            pushed.set_int_custom_property('pushed', 0)
            pushed.set_string_custom_property('not_pushed_reason', '; '.join(reasons))
            return

        base = exec_properties[spec.BASE_DIRECTORY_KEY]
        newest, card = pushed_layout.latest(base)
        if card is not None and card.get('trained_model', {}).get('uri') == model.uri:
            # The newest version is this very model, blessed again (say, after an evaluation
            # option changed): no second copy. An older model blessed again is pushed anew.
            storage.makedirs(pushed.uri)
            fileio.copy(pushed_layout.extra(storage.join(base, newest), MODEL_CARD_FILE),
                        storage.join(pushed.uri, MODEL_CARD_FILE), overwrite=True)
            pushed.set_int_custom_property('pushed', 1)
            pushed.set_int_custom_property('already_pushed', 1)
            pushed.set_string_custom_property('pushed_destination', storage.join(base, newest))
            pushed.set_string_custom_property('pushed_version', newest)
            return

        # The data set's class names (its folders, or '0'..'K-1' for arrays) unless the run
        # named them.
        classes = image_spec(get(spec.EXAMPLES_KEY)).class_names
        class_names = json.loads(exec_properties.get(spec.CLASS_NAMES_KEY) or 'null') or \
            list(classes)
        if len(class_names) != len(classes):
            raise ValueError(f'{len(class_names)} class names given for {len(classes)} classes')
        metrics = json.loads(storage.read_text(storage.join(tflite_blessing.uri, METRICS_FILE)))
        version = _new_version(base)
        final = storage.join(base, version)
        staging = storage.join(base, f'.{version}.partial')
        storage.remove_tree(staging)
        try:
            storage.copy_tree(path_utils.serving_model_dir(model.uri), staging)
            sizes = {SAVED_MODEL: storage.folder_bytes(staging)}
            extra = lambda name: pushed_layout.extra(staging, name)  # noqa: E731
            storage.makedirs(storage.join(staging, pushed_layout.EXTRA_DIR))
            for name in (FLOAT32_FILE, INT8_FILE):
                fileio.copy(storage.join(tflite_model.uri, name), extra(name))
            storage.write_text(extra(pushed_layout.LABELS_FILE), '\n'.join(class_names) + '\n')
            statistics, examples = get(spec.STATISTICS_KEY), get(spec.EXAMPLES_KEY)
            storage.copy_tree(statistics.uri, extra(pushed_layout.STATISTICS_DIR))
            serialized, pixels, _ = read_examples(examples, metrics['split'],
                                                  limit=max(warmup.BATCH_SIZES))
            warmup.write(extra(pushed_layout.WARMUP_FILE),
                         warmup.requests(serialized, pixels, model_name=_model_name(base)))
            storage.copy_tree(tfjs_model.uri, extra(pushed_layout.TFJS_DIR))
            card = model_card(
                version, class_names, metrics, _int8_quantization(extra(INT8_FILE)), model,
                statistics, examples, sizes, load_data_check(get(spec.DATA_CHECK_KEY).uri))
            card['formats']['tfjs'] = tfjs
            card['trained_model']['tflite_artifact_id'] = tflite_model.id
            card['signatures'] = export.describe_signatures(staging)
            storage.write_text(extra(MODEL_CARD_FILE), json.dumps(card, indent=2))
            files = storage.manifest(staging)
            pushed_layout.publish(staging, final)
        finally:
            storage.remove_tree(staging)

        # The artifact's own folder keeps the card and the manifest of what was pushed.
        storage.makedirs(pushed.uri)
        fileio.copy(pushed_layout.extra(final, MODEL_CARD_FILE),
                    storage.join(pushed.uri, MODEL_CARD_FILE), overwrite=True)
        storage.write_text(storage.join(pushed.uri, MANIFEST_FILE), json.dumps(files, indent=2))
        pushed.set_int_custom_property('pushed', 1)
        pushed.set_string_custom_property('pushed_destination', final)
        pushed.set_string_custom_property('pushed_version', version)
        pushed.set_string_custom_property('files', json.dumps(files))

