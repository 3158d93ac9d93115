"""After the e2e runs (tests/conftest.py `runs`): what the gate and the baseline do next.

In a copy of that output root (one pushed version of digits):
  1. Fashion-MNIST in the same root: stopped at the gate for drift, nothing trained;
  2. Fashion-MNIST again with --allow-drift, and a TFLite check that cannot pass: trained and
     blessed by the Evaluator, refused by the TFLite check, so not pushed;
  3. the digits again with other options: the baseline is the pushed digits model, not the
     blessed-but-refused model of run 2.
"""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, require_system_tool, run_cli, write_idx_dir
from image_tfx.data import sources
from image_tfx.records import metadata
from image_tfx.pipeline import pipeline as pipeline_def

FASHION = '/usr/share/datasets/fashion-mnist'
PIPELINE = 'mnist'
# What the e2e runs use (conftest.runs), so that ExampleGen's output of the digits is reused.
COMMON = ['--epochs', '1', '--accuracy-threshold', '0.3', '--max-int8-accuracy-drop', '0.05']

_REFUSED_RUN = '''
import sys
from image_tfx.runner import local as run_local
from image_tfx.runner.config import RunConfig
# An agreement no model reaches: the TFLite check refuses whatever the Evaluator blesses.
sys.exit(run_local.run(RunConfig(data=sys.argv[1], output_root=sys.argv[2], epochs=1,
                                 accuracy_threshold=0.0, allow_drift=True,
                                 min_tflite_agreement=1.5)))
'''


def _nodes(root):
    store = metadata.open_store(os.path.join(root, 'metadata', f'{PIPELINE}.sqlite'))
    return metadata.node_runs(store, PIPELINE)


def _prop(artifact, name):
    value = artifact.custom_properties[name]
    return value.string_value or value.int_value


@pytest.fixture(scope='module')
def later(runs, tmp_path_factory, digits):
    require_system_tool(os.path.isdir(FASHION), 'dataset-fashion-mnist')
    first, _, root = runs
    assert first.returncode == 0, first.stderr[-2000:]
    work = tmp_path_factory.mktemp('later')
    copy = str(work / 'outputs')
    shutil.copytree(root, copy)
    (pushed,) = os.listdir(os.path.join(copy, 'serving', PIPELINE))
    images, labels = sources.read_split(sources.detect_source(FASHION), 'train')
    fashion = write_idx_dir(work / 'fashion', images[:400].reshape(-1, 28, 28), labels[:400])
    stopped = run_cli('--data', fashion, *COMMON, '--output-root', copy)
    stopped_nodes = _nodes(copy)
    refused = subprocess.run([sys.executable, '-c', _REFUSED_RUN, fashion, copy],
                             capture_output=True, text=True, timeout=900, cwd=REPO)
    refused_nodes = _nodes(copy)
    versions_after_refused = sorted(os.listdir(os.path.join(copy, 'serving', PIPELINE)))
    digits_dir = str(root.parent / 'data')  # the e2e runs' data, as conftest wrote it
    third = run_cli('--data', digits_dir, *COMMON[2:], '--epochs', '2', '--output-root', copy)
    return {'pushed': pushed, 'root': copy, 'stopped': (stopped, stopped_nodes),
            'refused': (refused, refused_nodes), 'versions': versions_after_refused,
            'third': (third, _nodes(copy))}


def test_fashion_after_digits_stops_at_the_gate(later):
    result, nodes = later['stopped']
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert 'Traceback' not in result.stderr
    assert (f"split 'train', feature 'pixels': drifted from the data of pushed version "
            f"{later['pushed']}: Jensen-Shannon divergence") in result.stderr
    assert nodes[pipeline_def.ANOMALIES_GATE].state == 'failed'
    assert pipeline_def.TRAINER not in nodes


def test_allowed_drift_is_trained_but_a_refused_tflite_model_is_not_pushed(later):
    result, nodes = later['refused']
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'accepted with --allow-drift' in result.stdout
    blessing = nodes[pipeline_def.EVALUATOR].outputs['blessing'][0]
    assert _prop(blessing, 'blessed') == 1
    assert _prop(nodes[pipeline_def.TFLITE_VALIDATOR].outputs['blessing'][0], 'blessed') == 0
    assert _prop(nodes[pipeline_def.PUSHER].outputs['pushed_model'][0], 'pushed') == 0
    assert later['versions'] == [later['pushed']]
    # Its baseline was the pushed digits model.
    baseline = nodes[pipeline_def.BASELINE_MODEL].outputs['baseline_model'][0]
    assert _prop(baseline, 'pushed_version') == later['pushed']


def test_a_model_that_was_never_pushed_never_becomes_the_baseline(later):
    result, nodes = later['third']
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    refused_model = later['refused'][1][pipeline_def.TRAINER].outputs['model'][0]
    baseline = nodes[pipeline_def.BASELINE_MODEL].outputs['baseline_model'][0]
    assert _prop(baseline, 'pushed_version') == later['pushed']
    assert [a.id for a in nodes[pipeline_def.EVALUATOR].inputs['baseline_model']] == [baseline.id]
    blessing = nodes[pipeline_def.EVALUATOR].outputs['blessing'][0]
    # TFX's Evaluator records the baseline it compared with on the blessing.
    assert _prop(blessing, 'baseline_model_id') == baseline.id
    assert _prop(blessing, 'baseline_model') == baseline.uri != refused_model.uri
    # The digits are the pushed model's own data: nothing to compare them with.
    assert 'drift:       not checked' in result.stdout
    assert '(last pushed model: ' in result.stdout
