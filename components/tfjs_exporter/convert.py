"""SavedModel -> TensorFlow.js graph model (the `serving_images` signature: raw 28x28 pixels).

    python -m image_tfx.components.tfjs_exporter.convert SAVED_MODEL_DIR OUTPUT_DIR

The converter and its dependencies (JAX, TF Decision Forests) are installed apart, in
`<environment>/tfjs-converter` (requirements-tfjs.txt): installed beside the stack they would
be imported by every TensorFlow and TFMA process. So `convert` runs the conversion in a child
process with that folder first on its path.
"""

import os
import subprocess
import sys

MODEL_FILE = 'model.json'
# Where `make install` (and the Kubeflow image) put the converter: beside the environment.
CONVERTER_SITE = os.environ.get('IMAGE_TFX_TFJS_CONVERTER',
                                os.path.join(sys.prefix, 'tfjs-converter'))


class ConversionError(RuntimeError):
    """The converter is missing or refused the SavedModel; the message says why."""


def convert(saved_model_dir: str, local_dir: str) -> int:
    """Writes model.json and its weight shards to the local folder `local_dir` (the converter
    writes to local disk only); returns their total bytes."""
    if not os.path.isdir(os.path.join(CONVERTER_SITE, 'tensorflowjs')):
        raise ConversionError(f'{CONVERTER_SITE}: the TensorFlow.js converter is not installed '
                              'there (make install puts it there)')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [CONVERTER_SITE, os.environ.get('PYTHONPATH')])), TF_CPP_MIN_LOG_LEVEL='3')
    result = subprocess.run([sys.executable, '-m', __name__, saved_model_dir, local_dir],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise ConversionError(f'{saved_model_dir}: TF.js conversion failed: '
                              + (lines[-1] if lines else f'exit status {result.returncode}'))
    return sum(os.path.getsize(os.path.join(local_dir, name)) for name in os.listdir(local_dir))


def main(argv=None) -> int:
    saved_model_dir, local_dir = (argv or sys.argv[1:])[:2]
    from tensorflowjs.converters import tf_saved_model_conversion_v2
    from image_tfx.model import export
    tf_saved_model_conversion_v2.convert_tf_saved_model(
        saved_model_dir, local_dir, signature_def=export.IMAGES_SIGNATURE,
        saved_model_tags='serve')
    return 0


if __name__ == '__main__':
    from image_tfx.data import object_store
    object_store.exit_now(main())
