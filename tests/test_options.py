"""Runner options -> create_pipeline arguments, and the wiring of the pipeline they build."""

import argparse

from mnist_tfx.components.mnist_example_gen import sources
from mnist_tfx.pipeline import options
from mnist_tfx.pipeline import pipeline as pipeline_def
from mnist_tfx.pipeline.config import RunConfig


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
    config = RunConfig(output_root=str(tmp_path))
    source = sources.detect_source(sources.default_data_path())
    pipeline = pipeline_def.create_pipeline(**options.pipeline_kwargs(config, source))
    nodes = {node.id: node for node in pipeline.components}
    assert set(pipeline_def.COMPONENTS) | {pipeline_def.BASELINE_RESOLVER} == set(nodes)
    upstream = lambda node_id: {n.id for n in nodes[node_id].upstream_nodes}  # noqa: E731
    # Nothing trains from data the gate did not pass.
    assert pipeline_def.ANOMALIES_GATE in upstream(pipeline_def.TRANSFORM)
    assert upstream(pipeline_def.PUSHER) >= {pipeline_def.EVALUATOR,
                                             pipeline_def.TFLITE_VALIDATOR,
                                             pipeline_def.TFLITE_EXPORTER}
    trainer_config = nodes[pipeline_def.TRAINER].exec_properties['custom_config']
    assert options.model_code_version() in trainer_config
