"""The whole DAG through LocalDagRunner on a few hundred real digits, checked in ML Metadata.

One run, then a second that must be served entirely from the cache. Both use the command-line
entry point, as a user would.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli
from mnist_tfx.components.mnist_example_gen.executor import to_example
from mnist_tfx.pipeline import metadata
from mnist_tfx.pipeline import pipeline as pipeline_def

PIPELINE = 'mnist'


@pytest.fixture(scope='module')
def runs(tmp_path_factory, digits):
    """(first run, second run, output root) of the pipeline on a small IDX data set."""
    from conftest import write_idx_dir
    images, labels = digits
    root = tmp_path_factory.mktemp('e2e')
    data = write_idx_dir(root / 'data', images[:400], labels[:400], images[4000:4100],
                         labels[4000:4100])
    args = ['--data', data, '--epochs', '1', '--accuracy-threshold', '0.3',
            '--output-root', str(root / 'outputs')]
    first = run_cli(*args)
    second = run_cli(*args)
    return first, second, root / 'outputs'


def _store(root):
    return metadata.open_store(os.path.join(root, 'metadata', f'{PIPELINE}.sqlite'))


def test_first_run_completes_every_component(runs):
    first, _, root = runs
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for component in pipeline_def.COMPONENTS:
        assert f'done    {component}' in first.stdout
    store = _store(root)
    run_id = metadata.run_ids(store, PIPELINE)[0]
    nodes = metadata.node_runs(store, PIPELINE, run_id)
    for component in pipeline_def.COMPONENTS:
        assert nodes[component].state == 'complete', component
        for artifacts in nodes[component].outputs.values():
            for artifact in artifacts:
                assert artifact.state == artifact.LIVE and os.path.exists(artifact.uri)
    # Every component but the gate records outputs; the gate's effect is that Transform ran.
    assert all(nodes[c].outputs for c in pipeline_def.COMPONENTS
               if c != pipeline_def.ANOMALIES_GATE)
    examples = nodes[pipeline_def.EXAMPLE_GEN].outputs['examples'][0]
    assert examples.properties['split_names'].string_value == '["train", "eval", "test"]'
    assert nodes[pipeline_def.EXAMPLE_GEN].execution.custom_properties  # recorded, not bare
    assert 'data:        train ' in first.stdout and 'test 100' in first.stdout
    assert 'anomalies:   none' in first.stdout


def test_tensorboard_logs_per_epoch(runs):
    _, _, root = runs
    nodes = metadata.node_runs(_store(root), PIPELINE, metadata.run_ids(_store(root), PIPELINE)[0])
    log_dir = nodes[pipeline_def.TRAINER].outputs['model_run'][0].uri
    tags = set()
    for sub in ('train', 'validation'):
        for name in os.listdir(os.path.join(log_dir, sub)):
            for event in tf.compat.v1.train.summary_iterator(os.path.join(log_dir, sub, name)):
                tags.update(v.tag for v in event.summary.value)
    assert {'epoch_loss', 'epoch_accuracy'} <= tags


def test_pushed_model_predicts_on_raw_examples(runs, digits):
    first, _, root = runs
    nodes = metadata.node_runs(_store(root), PIPELINE, metadata.run_ids(_store(root), PIPELINE)[0])
    pushed = nodes[pipeline_def.PUSHER].outputs['pushed_model'][0]
    assert pushed.custom_properties['pushed'].int_value == 1
    destination = pushed.custom_properties['pushed_destination'].string_value
    assert destination.startswith(os.path.join(str(root), 'serving', PIPELINE))
    assert f'pushed to:   {destination}' in first.stdout

    images, labels = digits
    test_images, test_labels = images[4500:4600], labels[4500:4600]
    loaded = tf.saved_model.load(destination)
    serialized = tf.constant([
        # Raw serving examples carry only the pixels (schema environment SERVING).
        _without_label(to_example(image.reshape(-1).astype(np.int64), 0)).SerializeToString()
        for image in test_images])
    by_examples = loaded.signatures['serving_default'](examples=serialized)
    by_images = loaded.signatures['serving_images'](images=tf.constant(test_images))
    probabilities = by_examples['probabilities'].numpy()
    assert probabilities.shape == (100, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(by_examples['class_ids'].numpy(), by_images['class_ids'].numpy())
    # One epoch on 320 images is weak, but far better than chance (0.1).
    assert (by_examples['class_ids'].numpy() == test_labels).mean() > 0.3


def _without_label(example):
    del example.features.feature['label']
    return example


def test_second_run_is_fully_cached(runs):
    _, second, root = runs
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    for component in pipeline_def.COMPONENTS:
        assert f'cached  {component}' in second.stdout
    store = _store(root)
    first_id, second_id = metadata.run_ids(store, PIPELINE)
    first_nodes = metadata.node_runs(store, PIPELINE, first_id)
    second_nodes = metadata.node_runs(store, PIPELINE, second_id)
    for component in pipeline_def.COMPONENTS:
        assert second_nodes[component].state == 'cached', component
        assert ({k: [a.id for a in v] for k, v in second_nodes[component].outputs.items()}
                == {k: [a.id for a in v] for k, v in first_nodes[component].outputs.items()})
    assert len(os.listdir(os.path.join(root, 'serving', PIPELINE))) == 1
