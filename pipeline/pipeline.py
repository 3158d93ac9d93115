"""The pipeline definition, wired once: every runner (local, Kubeflow) builds it from here.

`create_pipeline` is pure: every path, count and threshold is an argument, and it reads no
environment and no files. Runners build its arguments with `runner.options`.
"""

from typing import Any, List, Mapping, Optional

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
# TFX's modules, not `tfx.v1`: that imports every component and Google Cloud extension TFX
# has, about 2 s of every run's start-up (a cached rerun is mostly start-up).
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.components.transform.component import Transform
from tfx.orchestration import pipeline as tfx_pipeline

from image_tfx.components.anomalies_gate import component as gate_component
from image_tfx.components.anomalies_gate import thresholds
from image_tfx.components.data_schema.component import DataSchemaGen
from image_tfx.data import sources
from image_tfx.components.image_example_gen.component import ImageExampleGen
from image_tfx.components.model_pusher.component import ModelPusher
from image_tfx.components.parameterized import component as parameterized
from image_tfx.components.pushed_baseline.component import PushedModel, PushedStatistics
from image_tfx.components.tfjs_exporter.component import TFJSExporter
from image_tfx.components.tflite_exporter.component import TFLiteExporter
from image_tfx.components.tflite_validator.component import TFLiteValidator
from image_tfx.model import export
from image_tfx.model import features
from image_tfx.model.params import TrainingParams
from image_tfx.pipeline.nodes import (  # noqa: F401  (re-exported: pipeline.COMPONENTS etc.)
    ANOMALIES_GATE, BASELINE_MODEL, BASELINE_STATISTICS, COMPONENTS, EVALUATOR, EXAMPLE_GEN,
    EXAMPLE_VALIDATOR, PUSHER, SCHEMA_GEN, STATISTICS_GEN, TFJS_EXPORTER, TFLITE_EXPORTER,
    TFLITE_VALIDATOR, TRAINER, TRANSFORM)

# Dotted paths TFX imports inside Transform and Trainer (tests/test_model.py imports them).
PREPROCESSING_FN = 'image_tfx.model.preprocessing.preprocessing_fn'
RUN_FN = 'image_tfx.model.trainer.run_fn'

ACCURACY_METRIC = 'sparse_categorical_accuracy'

# Values an orchestrator may set per run (`create_pipeline(run_parameters=...)`): the name of
# each, and the create_pipeline value it replaces.
DATA_PARAMETER = 'data'
RUN_PARAMETERS = (DATA_PARAMETER, 'epochs', 'batch_size', 'learning_rate', 'accuracy_threshold')

def eval_config(accuracy_threshold: float, max_accuracy_drop: float) -> tfma.EvalConfig:
    """TFMA config: accuracy overall and per label; bless above a threshold and not worse."""
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name='serving_default',
                                    label_key=features.LABEL_KEY,
                                    prediction_key=export.PREDICTION_KEY)],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[features.LABEL_KEY])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(
                class_name='SparseCategoricalAccuracy',
                # The gate is on the overall slice only; per-class accuracy is reported, not
                # judged (a thin class should not block a better model).
                per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                    slicing_specs=[tfma.SlicingSpec()],
                    threshold=tfma.MetricThreshold(
                        value_threshold=tfma.GenericValueThreshold(
                            lower_bound={'value': accuracy_threshold}),
                        # Applied only where a baseline exists (not on a first run).
                        change_threshold=tfma.GenericChangeThreshold(
                            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                            absolute={'value': -max_accuracy_drop})))]),
            tfma.MetricConfig(class_name='ExampleCount'),
        ])])


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    data_format: str,
    data_pattern: str,
    schema_file: str,
    serving_dir: str,
    training: TrainingParams,
    accuracy_threshold: float,
    max_accuracy_drop: float = 0.0,
    class_names: Optional[List[str]] = None,
    image_size: str = '',
    min_tflite_agreement: float = 0.999,
    min_tfjs_agreement: float = 0.999,
    max_int8_accuracy_drop: float = 0.005,
    max_tflite_bytes: int = 0,
    min_fps: float = 0.0,
    num_representative_examples: int = 300,
    train_buckets: int = 4,
    eval_buckets: int = 1,
    max_class_share: float = thresholds.MAX_CLASS_SHARE,
    max_label_drift: float = thresholds.MAX_LABEL_DRIFT,
    max_pixel_drift: float = thresholds.MAX_PIXEL_DRIFT,
    allow_drift: bool = False,
    max_duplicate_share: float = thresholds.MAX_DUPLICATE_SHARE,
    custom_validations: Optional[custom_validation_config_pb2.CustomValidationConfig] = None,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
    model_code_version: str = '',
    run_parameters: Optional[Mapping[str, Any]] = None,
    platform_configs: Optional[Mapping[str, Any]] = None,
) -> tfx_pipeline.Pipeline:
    """Builds the TFX pipeline.

    Args:
      pipeline_name: name of the pipeline in ML Metadata.
      pipeline_root: where components write their artifacts.
      data_root, data_format, data_pattern: the data set (`sources.detect_source(path)` gives
        base, format and pattern).
      schema_file: the curated schema (schema/schema.pbtxt), made for the data set's image
        shape and classes by DataSchemaGen.
      serving_dir: the Pusher's destination; each pushed model gets a versioned folder in it.
      training: epochs, batch size, learning rate and mixed precision for the Trainer.
      accuracy_threshold: lowest eval accuracy that blesses a model.
      max_accuracy_drop: how much lower than the baseline's accuracy a model may be (0: not
        worse at all).
      class_names: one name per label, for labels.txt and the model card (default: the data
        set's: its class folders, or '0'..'K-1' for arrays).
      image_size: 'HxW' or 'HxWxC': ExampleGen brings every image to it ('': the data's own).
      min_tflite_agreement: share of eval examples on which the float32 TFLite model must
        predict the SavedModel's class.
      min_tfjs_agreement: share of the images checked in Chromium on which the TF.js model
        must predict the SavedModel's class.
      max_int8_accuracy_drop: how far the int8 TFLite model's accuracy may fall below the
        SavedModel's (0.005 = half a percentage point).
      max_tflite_bytes, min_fps: the int8 TFLite model's budgets (0: none): its size in bytes,
        and images per second one at a time on one thread; missed, nothing is pushed.
      num_representative_examples: transformed training examples that calibrate int8
        quantization.
      train_buckets, eval_buckets: hash split of the training data into train and eval.
      max_class_share: the largest share of a split one class may hold (the gate).
      max_label_drift, max_pixel_drift: how far the label shares (L-infinity distance) and the
        pixel histogram (Jensen-Shannon divergence) of the train split may move from the data
        of the last pushed model before the gate stops the run.
      allow_drift: record drift beyond those bounds without stopping (a deliberate change).
      max_duplicate_share: the share of a test split's images that may be exact copies of
        train images.
      custom_validations: extra TFDV SQL checks for ExampleValidator (schema/validations.pbtxt).
      metadata_connection_config: ML Metadata; None leaves it to the orchestrator.
      beam_pipeline_args: arguments for Beam-based components.
      enable_cache: reuse outputs of components whose inputs and properties are unchanged.
      model_code_version: a fingerprint of the model code (options.model_code_version). TFX's
        cache key holds the dotted `preprocessing_fn`/`run_fn` names, not the code behind them:
        passing the fingerprint to Transform and Trainer makes a code edit a cache miss.
      run_parameters: `tfx.dsl.experimental.RuntimeParameter`s that replace values above so
        that an orchestrator sets them per run, by name in RUN_PARAMETERS: `data` replaces
        data_root (its format is then detected when ExampleGen runs; '' is the shipped
        digits), `epochs`, `batch_size` and `learning_rate` the fields of `training`,
        `accuracy_threshold` the argument of that name.
      platform_configs: per node id, an orchestrator's resource request (Kubeflow:
        a PipelineContainerSpec.ResourceSpec); the local runner ignores them.
    """
    run_parameters = dict(run_parameters or {})
    unknown = set(run_parameters) - set(RUN_PARAMETERS)
    if unknown:
        raise ValueError(f'unknown run parameters {sorted(unknown)}; known: {RUN_PARAMETERS}')
    if DATA_PARAMETER in run_parameters:
        data_root, data_format, data_pattern = (run_parameters[DATA_PARAMETER],
                                                sources.FORMAT_AUTO, sources.AUTO_PATTERN)
    example_gen = ImageExampleGen(input_base=data_root, source_format=data_format,
                                  pattern=data_pattern, train_buckets=train_buckets,
                                  eval_buckets=eval_buckets, image_size=image_size)
    schema_gen = DataSchemaGen(examples=example_gen.outputs['examples'], schema_file=schema_file)
    # With the schema, TFDV counts the values of the (categorical) label: the gate's label checks.
    statistics_gen = StatisticsGen(examples=example_gen.outputs['examples'],
                                   schema=schema_gen.outputs['schema'])
    example_validator = parameterized.ExampleValidator(
        statistics=statistics_gen.outputs['statistics'], schema=schema_gen.outputs['schema'],
        custom_validation_config=custom_validations)
    baseline_statistics = PushedStatistics(
        examples=example_gen.outputs['examples'],
        serving_dir=serving_dir).with_id(BASELINE_STATISTICS)
    gate = gate_component.AnomaliesGate(
        anomalies=example_validator.outputs['anomalies'],
        statistics=statistics_gen.outputs['statistics'], schema=schema_gen.outputs['schema'],
        baseline_statistics=baseline_statistics.outputs['statistics'],
        max_class_share=max_class_share, max_label_drift=max_label_drift,
        max_pixel_drift=max_pixel_drift, allow_drift=allow_drift,
        examples=example_gen.outputs['examples'], max_duplicate_share=max_duplicate_share)

    # Without the statistics Transform computes by default (pre-transform: StatisticsGen's
    # again; post-transform: of pixels/255) and without an analyzer cache no run reads back:
    # two TFDV passes and a cache write less per run (docs/performance.md).
    transform = Transform(
        examples=example_gen.outputs['examples'], schema=schema_gen.outputs['schema'],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={'model_code_version': model_code_version},
        disable_statistics=True, disable_analyzer_cache=True)
    # Transform (and so everything after it) runs only when the gate passed.
    transform.add_upstream_node(gate)

    trainer_config = training.to_custom_config()
    trainer = parameterized.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs['transformed_examples'],
        transform_graph=transform.outputs['transform_graph'],
        schema=schema_gen.outputs['schema'],
        # Per-run values are the Trainer's own parameters, the rest stays in custom_config.
        **{k: run_parameters.get(k, trainer_config.pop(k))
           for k in ('epochs', 'batch_size', 'learning_rate')},
        custom_config={**trainer_config, 'model_code_version': model_code_version})

    # The baseline is the last *pushed* model other than the candidate, read from the serving
    # directory: a model that was blessed but never pushed never becomes the bar.
    baseline_model = PushedModel(model=trainer.outputs['model'],
                                 serving_dir=serving_dir).with_id(BASELINE_MODEL)

    evaluator = parameterized.Evaluator(
        examples=example_gen.outputs['examples'],
        model=trainer.outputs['model'],
        baseline_model=baseline_model.outputs['baseline_model'],
        # The executor sets the accuracy bounds from the parameters, per run.
        eval_config=eval_config(accuracy_threshold, max_accuracy_drop),
        accuracy_threshold=run_parameters.get('accuracy_threshold', accuracy_threshold),
        max_accuracy_drop=max_accuracy_drop)

    tflite_exporter = TFLiteExporter(
        model=trainer.outputs['model'],
        transformed_examples=transform.outputs['transformed_examples'],
        transform_graph=transform.outputs['transform_graph'],
        num_representative_examples=num_representative_examples)
    tflite_validator = TFLiteValidator(
        model=trainer.outputs['model'],
        tflite_model=tflite_exporter.outputs['tflite_model'],
        examples=example_gen.outputs['examples'],
        min_float32_agreement=min_tflite_agreement,
        max_int8_accuracy_drop=max_int8_accuracy_drop,
        max_tflite_bytes=max_tflite_bytes, min_fps=min_fps)
    tfjs_exporter = TFJSExporter(
        model=trainer.outputs['model'], examples=example_gen.outputs['examples'],
        min_agreement=min_tfjs_agreement,
    ).with_id(TFJS_EXPORTER)
    pusher = ModelPusher(
        model=trainer.outputs['model'],
        model_blessing=evaluator.outputs['blessing'],
        tflite_model=tflite_exporter.outputs['tflite_model'],
        tflite_blessing=tflite_validator.outputs['blessing'],
        tfjs_model=tfjs_exporter.outputs['tfjs_model'],
        tfjs_blessing=tfjs_exporter.outputs['blessing'],
        statistics=statistics_gen.outputs['statistics'],
        examples=example_gen.outputs['examples'],
        data_check=gate.outputs['result'],
        base_directory=serving_dir,
        class_names=class_names,
    ).with_id(PUSHER)

    components = [example_gen, schema_gen, statistics_gen, example_validator,
                  baseline_statistics, gate, transform, trainer, baseline_model, evaluator,
                  tflite_exporter, tflite_validator, tfjs_exporter, pusher]
    for component in components:
        if component.id in (platform_configs or {}):
            component.with_platform_config(platform_configs[component.id])
    return tfx_pipeline.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [])

