"""Runner options -> create_pipeline arguments, and the wiring of the pipeline they build."""

import argparse
import os

import numpy as np
import pytest

from image_tfx import schema
from image_tfx.data import sources
from image_tfx.runner import local as run_local
from image_tfx.runner import options
from image_tfx.pipeline import pipeline as pipeline_def
from image_tfx.runner.config import RunConfig


def _config(argv, tmp_path):
    parser = argparse.ArgumentParser()
    options.add_arguments(parser)
    return options.config_from_args(parser.parse_args([*argv, '--output-root', str(tmp_path)]))


def test_defaults_are_the_config_defaults(tmp_path):
    assert _config([], tmp_path) == RunConfig(output_root=str(tmp_path))


def test_options_reach_the_config(tmp_path):
    config = _config(['--epochs', '2', '--batch-size', '32', '--mixed-precision',
                      'mixed_float16', '--class-names', 'a,b,c,d,e,f,g,h,i,j', '--no-cache'],
                     tmp_path)
    assert (config.epochs, config.batch_size, config.mixed_precision) == (2, 32, 'mixed_float16')
    assert config.class_names == tuple('abcdefghij') and not config.enable_cache


def test_gpus_reach_the_trainer_and_must_be_whole(tmp_path, capsys):
    config = _config(['--gpus', '2'], tmp_path)
    assert config.gpus == 2 and config.training.gpus == 2
    assert config.training.to_custom_config()['gpus'] == 2
    with pytest.raises(SystemExit):
        _config(['--gpus', '-1'], tmp_path)
    assert 'must be 0 or more, got -1' in capsys.readouterr().err


def test_schema_copy_is_named_by_content(tmp_path):
    config = RunConfig(output_root=str(tmp_path))
    first = options.curated_schema_file(config)
    assert options.curated_schema_file(config) == first
    edited = tmp_path / 'schema.pbtxt'
    with open(first) as f:
        edited.write_text(f.read() + '\n# edited\n')
    assert options.curated_schema_file(config, str(edited)) != first


def test_model_code_version_is_a_stable_fingerprint():
    version = options.model_code_version()
    assert len(version) == 16 and version == options.model_code_version()


def test_pipeline_wiring(tmp_path):
    config = _config(['--min-tfjs-agreement', '0.98'], tmp_path)
    source = sources.detect_source(sources.default_data_path())
    pipeline = pipeline_def.create_pipeline(**options.pipeline_kwargs(config, source))
    nodes = {node.id: node for node in pipeline.components}
    assert set(pipeline_def.COMPONENTS) == set(nodes)
    upstream = lambda node_id: {n.id for n in nodes[node_id].upstream_nodes}  # noqa: E731
    # Nothing trains from data the gate did not pass.
    assert pipeline_def.ANOMALIES_GATE in upstream(pipeline_def.TRANSFORM)
    assert upstream(pipeline_def.PUSHER) >= {pipeline_def.EVALUATOR,
                                             pipeline_def.TFLITE_VALIDATOR,
                                             pipeline_def.TFLITE_EXPORTER,
                                             pipeline_def.TFJS_EXPORTER}
    trainer = nodes[pipeline_def.TRAINER].exec_properties
    assert options.model_code_version() in trainer['custom_config']
    # Values a Kubeflow run sets are execution properties of their own, with the run's values.
    assert (trainer['epochs'], trainer['batch_size'], trainer['learning_rate']) == (
        config.epochs, config.batch_size, config.learning_rate)
    evaluator = nodes[pipeline_def.EVALUATOR].exec_properties
    assert evaluator['accuracy_threshold'] == config.accuracy_threshold
    assert nodes[pipeline_def.TFJS_EXPORTER].exec_properties['min_agreement'] == 0.98
    validator = nodes[pipeline_def.EXAMPLE_VALIDATOR].exec_properties
    assert 'inverted' in validator['custom_validation_config']
    # The gate judges labels on statistics computed with the schema, and drift against the
    # data of the last pushed model; the Evaluator's baseline is the last pushed model.
    assert upstream(pipeline_def.STATISTICS_GEN) >= {pipeline_def.SCHEMA_GEN}
    assert upstream(pipeline_def.ANOMALIES_GATE) >= {
        pipeline_def.EXAMPLE_VALIDATOR, pipeline_def.STATISTICS_GEN,
        pipeline_def.BASELINE_STATISTICS}
    assert upstream(pipeline_def.EVALUATOR) >= {pipeline_def.BASELINE_MODEL}
    gate = nodes[pipeline_def.ANOMALIES_GATE].exec_properties
    assert (gate['max_class_share'], gate['allow_drift']) == (config.max_class_share, 0)
    for baseline in (pipeline_def.BASELINE_STATISTICS, pipeline_def.BASELINE_MODEL):
        assert nodes[baseline].exec_properties['serving_dir'] == config.serving_dir


def test_run_parameters_replace_values():
    from tfx import v1 as tfx
    param = tfx.dsl.experimental.RuntimeParameter
    source = sources.detect_source(sources.default_data_path())
    kwargs = options.pipeline_kwargs(RunConfig(), source, schema_file=schema.SCHEMA_FILE)
    data, epochs = param(name='data', ptype=str, default=''), param(name='epochs', ptype=int,
                                                                    default=3)
    pipeline = pipeline_def.create_pipeline(**kwargs, run_parameters={'data': data,
                                                                       'epochs': epochs})
    nodes = {node.id: node for node in pipeline.components}
    example_gen = nodes[pipeline_def.EXAMPLE_GEN].exec_properties
    assert example_gen['input_base'] is data and example_gen['source_format'] == 'auto'
    assert nodes[pipeline_def.TRAINER].exec_properties['epochs'] is epochs
    with pytest.raises(ValueError, match='unknown run parameters'):
        pipeline_def.create_pipeline(**kwargs, run_parameters={'epoch': epochs})


def test_beam_arguments_sized_by_data_unless_given(tmp_path):
    config = RunConfig(output_root=str(tmp_path))
    small = options.beam_pipeline_args(config, image_count=70_000, memory_bytes=24 << 30)
    assert small == ['--direct_running_mode=in_memory', '--direct_num_workers=1',
                     options.DIRECT_RUNNER_WORKERS]
    large = options.beam_pipeline_args(config, image_count=500_000, memory_bytes=24 << 30)
    cores = os.cpu_count()
    assert large == (['--direct_running_mode=multi_processing', f'--direct_num_workers={cores}',
                      options.DIRECT_RUNNER_WORKERS] if cores > 1 else small)
    given = _config(['--beam-pipeline-arg=--runner=DataflowRunner',
                     '--beam-pipeline-arg=--project=p'], tmp_path)
    assert options.beam_pipeline_args(given, 60_000) == ['--runner=DataflowRunner',
                                                         '--project=p']
    source = sources.detect_source(sources.default_data_path())
    pipeline = pipeline_def.create_pipeline(**options.pipeline_kwargs(given, source))
    assert pipeline.beam_pipeline_args == ['--runner=DataflowRunner', '--project=p']


def test_components_side_by_side_by_cores_unless_the_data_is_large(tmp_path):
    memory = 24 << 30
    assert options.concurrent_components(70_000, memory, cores=2) == 2
    assert options.concurrent_components(70_000, memory, cores=16) == 3
    assert options.concurrent_components(70_000, memory, cores=1) == 1
    assert options.concurrent_components(500_000, memory, cores=16) == 1
    assert _config(['--components-at-once', '1'], tmp_path).components_at_once == 1
    # Larger images weigh more: 20,000 photos of 96x96x3 take what 705,306 digits would.
    assert options.digit_equivalents(20_000, (96, 96, 3)) == 705_306
    assert options.concurrent_components(options.digit_equivalents(20_000, (96, 96, 3)),
                                         memory, cores=2) == 1
    assert options.digit_equivalents(5_000, (28, 28, 1)) == 5_000


def test_direct_runner_arguments_stop_tfx_packaging_itself(tmp_path):
    """TFX's own check finds the workers' dependencies named, so it builds no package of itself."""
    from tfx.utils import dependency_utils
    own = _config(['--beam-pipeline-arg=--direct_num_workers=2',
                   '--beam-pipeline-arg=--direct_running_mode=multi_threading'], tmp_path)
    for args in (options.beam_pipeline_args(RunConfig(output_root=str(tmp_path)), 5_000),
                 options.beam_pipeline_args(own, 5_000)):
        assert args[-1] == options.DIRECT_RUNNER_WORKERS
        assert dependency_utils.make_beam_dependency_flags(args) == args
    # A remote runner's workers need TFX: its packaging is left to TFX.
    remote = _config(['--beam-pipeline-arg=--runner=DataflowRunner'], tmp_path)
    assert options.DIRECT_RUNNER_WORKERS not in options.beam_pipeline_args(remote, 5_000)


def test_scaling_doc_flags_parse():
    """Every flag in docs/scaling.md's flag blocks is one Beam knows (unknown ones are dropped
    silently by Beam, so a typo there would otherwise go unnoticed)."""
    import re
    from apache_beam.options.pipeline_options import PipelineOptions
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs',
                           'scaling.md'), encoding='utf-8') as f:
        text = f.read()
    blocks = re.findall(r'```flags\n(.*?)```', text, re.S)
    assert len(blocks) >= 4
    for block in blocks:
        flags = block.split()
        known = PipelineOptions(flags).get_all_options(retain_unknown_options=False)
        for flag in flags:
            name = flag[2:].split('=', 1)[0]
            assert flag.startswith('--') and name in known, f'{flag} is not a Beam option'


def test_a_folder_data_set_names_its_pipeline(tmp_path, digits):
    """Without --pipeline-name a folder of class folders is its own pipeline (serving/<name>),
    not the digits' `mnist`; other data keeps the default."""
    from PIL import Image
    for label in ('cat', 'dog'):
        folder = tmp_path / 'Cats & Dogs' / label
        folder.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(digits[0][i]).save(folder / f'{i}.png')
    parse = lambda *args: options.config_from_args(  # noqa: E731
        run_local.parse_args(['--output-root', str(tmp_path / 'out'), *args]))
    assert parse('--data', str(tmp_path / 'Cats & Dogs')).pipeline_name == 'Cats-Dogs'
    assert parse('--data', str(tmp_path / 'Cats & Dogs'), '--pipeline-name', 'pets') \
        .pipeline_name == 'pets'
    data = tmp_path / 'digits.npz'
    np.savez(data, x_train=digits[0][:20], y_train=digits[1][:20])
    assert parse('--data', str(data)).pipeline_name == 'mnist'
    assert parse().pipeline_name == 'mnist'
