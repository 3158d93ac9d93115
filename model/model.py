"""The two networks, chosen with --model:

* `cnn` (the default, the seed's): Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten ->
  Dense(classes, softmax);
* `edge`: Keras' MobileNetV3-Small (no pretrained weights: nothing is downloaded) for a device
  budget, its width (`alpha`) and input resolution as options; images of another size are
  resized to that resolution inside the model.

Both take images [batch, height, width, channels] in [0, 1] (Transform's output) and give class
probabilities; the last layer stays float32 under a mixed-precision policy, so the softmax and
the loss are computed in full precision.
"""

import dataclasses
from typing import Any, Dict, Optional, Tuple

import keras

CNN, EDGE = 'cnn', 'edge'
ARCHITECTURES = (CNN, EDGE)
# MobileNetV3 halves its input five times: below this the feature map vanishes.
EDGE_MIN_RESOLUTION = 32
BATCH_NORM_MOMENTUM = 0.8


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Which network, for which images and classes (everything build_model needs)."""
    input_shape: Tuple[int, int, int]
    num_classes: int
    architecture: str = CNN
    width: float = 1.0  # edge: MobileNetV3's alpha (channel multiplier)
    resolution: int = 0  # edge: input side the network runs at; 0: the images' own (>= 32)

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f'unknown model {self.architecture!r}; expected one of '
                             f'{ARCHITECTURES}')

    @property
    def edge_resolution(self) -> Tuple[int, int]:
        if self.resolution:
            return self.resolution, self.resolution
        height, width, _ = self.input_shape
        return max(height, EDGE_MIN_RESOLUTION), max(width, EDGE_MIN_RESOLUTION)

    def to_config(self) -> Dict[str, Any]:
        return {'model': self.architecture, 'model_width': self.width,
                'model_resolution': self.resolution}


# The seed's case: the shipped digits.
DIGITS_MODEL = ModelSpec((28, 28, 1), 10)


def _cnn(spec: ModelSpec) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=spec.input_shape, name='image'),
        keras.layers.Conv2D(32, (3, 3), activation='relu'),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(spec.num_classes, activation='softmax', dtype='float32'),
    ], name='mnist_cnn')


def _edge(spec: ModelSpec) -> keras.Model:
    inputs = keras.Input(shape=spec.input_shape, name='image')
    x = inputs
    size = spec.edge_resolution
    if size != tuple(spec.input_shape[:2]):
        x = keras.layers.Resizing(*size, interpolation='bilinear', name='resize')(x)
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(*size, spec.input_shape[2]), alpha=spec.width, include_top=False,
        weights=None, pooling='avg', include_preprocessing=False)
    # Keras' MobileNetV3 keeps batch-norm statistics with momentum 0.999: after the few hundred
    # steps of a small run they still hold their initial values, and inference collapses to one
    # class. BATCH_NORM_MOMENTUM follows the data within an epoch.
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = BATCH_NORM_MOMENTUM
    x = backbone(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(spec.num_classes, activation='softmax', dtype='float32',
                                 name='probabilities')(x)
    return keras.Model(inputs, outputs, name='edge_mobilenet_v3_small')


# What the Trainer compiles with beyond Keras' defaults on one device: several training steps
# per call of the compiled function, so that Python's overhead per step is paid once per call
# (the same updates; docs/performance.md measures it against Keras' defaults).
TRAINER_SETTINGS: Dict[str, Any] = {'steps_per_execution': 32}


def build_model(spec: ModelSpec = DIGITS_MODEL, learning_rate: float = 1e-3,
                settings: Optional[Dict[str, Any]] = None) -> keras.Model:
    """Builds and compiles the network; call it inside a distribution strategy's scope.

    `settings`: extra arguments of Model.compile (bench/fit_levers.py tries some); the Trainer
    passes TRAINER_SETTINGS."""
    model = (_cnn if spec.architecture == CNN else _edge)(spec)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss='sparse_categorical_crossentropy', metrics=['accuracy'],
                  **(settings or {}))
    return model


def float32_copy(model: keras.Model, spec: ModelSpec = DIGITS_MODEL) -> keras.Model:
    """The same network computing in float32, with the trained weights: what is exported.

    A model trained under `mixed_float16` computes its layers in float16, which the TFLite
    builtin kernels do not take (Conv2D, BiasAdd, Relu, MaxPool: the converter stops with
    ERROR_NEEDS_FLEX_OPS), and which CPUs serving it gain nothing from. Its variables are float32
    under that policy, so the copy holds exactly the trained values.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy('float32')
    try:
        copy = build_model(spec)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(model.get_weights())
    return copy
