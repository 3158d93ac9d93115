"""The two networks, chosen with --model:

* `cnn` (the default, the seed's): Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten ->
  Dense(classes, softmax);
* `edge`: a compact network for a device budget: four stages of two 3x3 convolutions with batch
  normalisation and ReLU (16, 32, 64 and 128 channels times its width), 2x2 max pooling between
  stages, global average pooling, dropout and softmax. Images are resized inside the model to
  the side it runs at: its resolution option, or by default their own side up to 32 pixels.

Either can augment its training images (random rotation, zoom and shift, as layers at the
model's input, so only training sees them; on by default for `edge`). Both take images [batch,
height, width, channels] in [0, 1] (Transform's output) and give class probabilities; the last
layer stays float32 under a mixed-precision policy, so the softmax and the loss are computed in
full precision.
"""

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

import keras

CNN, EDGE = 'cnn', 'edge'
ARCHITECTURES = (CNN, EDGE)
# The side the edge network runs at unless told otherwise (smaller images keep their own, down
# to the 8 pixels its three 2x2 poolings need).
EDGE_DEFAULT_RESOLUTION = 32
EDGE_MIN_SIDE = 8
EDGE_CHANNELS = (16, 32, 64, 128)
BATCH_NORM_MOMENTUM = 0.9


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Which network, for which images and classes (everything build_model needs)."""
    input_shape: Tuple[int, int, int]
    num_classes: int
    architecture: str = CNN
    width: float = 1.0  # edge: channel multiplier
    resolution: int = 0  # edge: input side the network runs at; 0: the images' own, up to 32
    augment: bool = False  # random rotation, zoom and shift of the training images

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f'unknown model {self.architecture!r}; expected one of '
                             f'{ARCHITECTURES}')

    @property
    def edge_resolution(self) -> Tuple[int, int]:
        if self.resolution:
            return self.resolution, self.resolution
        height, width, _ = self.input_shape
        return tuple(max(min(side, EDGE_DEFAULT_RESOLUTION), EDGE_MIN_SIDE)
                     for side in (height, width))


# The seed's case: the shipped digits.
DIGITS_MODEL = ModelSpec((28, 28, 1), 10)


def augmentation() -> List[keras.layers.Layer]:
    """Training-time changes of an image that keep its class: a turn of up to 11 degrees,
    a zoom of up to 20% in or out, a shift of up to a tenth of each side. Outside training
    (evaluation, serving, the exported formats) these layers pass images through unchanged."""
    return [keras.layers.RandomRotation(0.03, fill_mode='nearest', name='augment_rotation'),
            keras.layers.RandomZoom(0.2, fill_mode='nearest', name='augment_zoom'),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode='nearest',
                                           name='augment_shift')]


def _cnn(spec: ModelSpec) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=spec.input_shape, name='image'),
        *(augmentation() if spec.augment else []),
        keras.layers.Conv2D(32, (3, 3), activation='relu'),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(spec.num_classes, activation='softmax', dtype='float32'),
    ], name='mnist_cnn')


def _edge(spec: ModelSpec) -> keras.Model:
    # Keras' MobileNetV3-Small, which this network replaced, did not learn from scratch within
    # a run's budget on a CPU (docs/edge.md): plain convolutions train faster per image, and
    # ReLU keeps the int8 model close to the float one.
    layers = keras.layers
    inputs = keras.Input(shape=spec.input_shape, name='image')
    x = inputs
    size = spec.edge_resolution
    if size != tuple(spec.input_shape[:2]):
        x = layers.Resizing(*size, interpolation='bilinear', name='resize')(x)
    for layer in augmentation() if spec.augment else []:
        x = layer(x)
    for stage, channels in enumerate(EDGE_CHANNELS):
        channels = max(8, int(round(channels * spec.width)))
        for _ in range(2):
            x = layers.Conv2D(channels, 3, padding='same', use_bias=False)(x)
            x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM)(x)
            x = layers.ReLU()(x)
        if stage < len(EDGE_CHANNELS) - 1:
            x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(spec.num_classes, activation='softmax', dtype='float32',
                           name='probabilities')(x)
    return keras.Model(inputs, outputs, name='edge_cnn')


# Training steps per call of the compiled function when an epoch's steps are not known.
STEPS_PER_EXECUTION = 32


def trainer_settings(steps_per_epoch: int) -> Dict[str, Any]:
    """What the Trainer compiles with beyond Keras' defaults on one device: several training
    steps per call of the compiled function, so that Python's overhead per step is paid once
    per call (the same updates; docs/performance.md measures it against Keras' defaults).

    A whole epoch per call when its steps are known (`steps_per_epoch` > 0), so that no
    training call runs past the end of the data: slow epochs were seen with calls that did
    (the cause not isolated). Evaluation uses the same setting and still runs past the end of
    its shorter data. A Ctrl-C in the thread that calls model.fit waits for the call to end.
    """
    return {'steps_per_execution': steps_per_epoch if steps_per_epoch > 0
            else STEPS_PER_EXECUTION}


# The share of the edge network's fit over which its rate rises from zero: started at full
# rate, it can sit at chance for epochs on some seeds (docs/edge.md).
EDGE_WARMUP = 0.1


def edge_schedule(learning_rate: float, training_steps: int,
                  warmup: float = EDGE_WARMUP) -> keras.optimizers.schedules.LearningRateSchedule:
    """The edge network's rate: up from zero over the first `warmup` share of the fit, then
    down along a cosine to zero at its end."""
    steps = int(training_steps * warmup)
    if not steps:
        return keras.optimizers.schedules.CosineDecay(learning_rate, training_steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0, training_steps - steps, warmup_target=learning_rate, warmup_steps=steps)


def build_model(spec: ModelSpec = DIGITS_MODEL, learning_rate: float = 1e-3,
                settings: Optional[Dict[str, Any]] = None,
                training_steps: Optional[int] = None) -> keras.Model:
    """Builds and compiles the network; call it inside a distribution strategy's scope.

    `settings`: extra arguments of Model.compile (bench/fit_levers.py tries some); the Trainer
    passes trainer_settings(). `training_steps`: the steps of the whole fit, when known; the
    edge network's learning rate then falls from `learning_rate` to zero along a cosine over
    them, after rising linearly from zero over the first EDGE_WARMUP of them (the seed CNN
    keeps its constant rate)."""
    model = (_cnn if spec.architecture == CNN else _edge)(spec)
    rate = learning_rate
    if spec.architecture == EDGE and training_steps:
        rate = edge_schedule(learning_rate, training_steps)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate),
                  loss='sparse_categorical_crossentropy', metrics=['accuracy'],
                  **(settings or {}))
    return model


def build_training_state(model: keras.Model, element_spec) -> bool:
    """Creates the optimizer's and the compiled metrics' variables of a compiled model before
    model.fit, for a dataset of (images, labels) batches with this `element_spec`; False (and
    Keras builds them as before) for any other structure or a shape not fully known.

    Outside a distribution strategy's scope Keras leaves them to the first trace of its
    training function, and a function that creates variables while traced is traced again;
    under a strategy Keras builds them ahead itself. The forward pass on one blank image
    changes no weight and draws no random number, and the metrics it updates are reset.
    """
    if not (isinstance(element_spec, tuple) and len(element_spec) == 2
            and all(spec.shape[1:].is_fully_defined() for spec in element_spec)):
        return False
    images_spec, labels_spec = element_spec
    images = keras.ops.zeros((1, *images_spec.shape[1:]), dtype=images_spec.dtype.name)
    labels = keras.ops.zeros((1, *labels_spec.shape[1:]), dtype=labels_spec.dtype.name)
    model.compute_metrics(images, labels, model(images, training=False), sample_weight=None)
    model.reset_metrics()
    model.optimizer.build(model.trainable_variables)
    return True


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
