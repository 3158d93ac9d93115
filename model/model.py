"""The CNN: Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten -> Dense(10, softmax)."""

import keras

from mnist_tfx.model import features

INPUT_SHAPE = (features.IMAGE_SIDE, features.IMAGE_SIDE, 1)


def build_model(learning_rate: float = 1e-3) -> keras.Model:
    """Builds and compiles the CNN; call it inside a distribution strategy's scope.

    Input: images [batch, 28, 28, 1] scaled to [0, 1] (Transform's output). Output: class
    probabilities [batch, 10]. The last layer stays float32 under a mixed-precision policy, so
    the softmax and the loss are computed in full precision.
    """
    model = keras.Sequential([
        keras.Input(shape=INPUT_SHAPE, name='image'),
        keras.layers.Conv2D(32, (3, 3), activation='relu'),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(features.NUM_CLASSES, activation='softmax', dtype='float32'),
    ], name='mnist_cnn')
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    return model


def float32_copy(model: keras.Model) -> keras.Model:
    """The same CNN computing in float32, with the trained weights: what is exported.

    A model trained under `mixed_float16` computes its layers in float16, which the TFLite
    builtin kernels do not take (Conv2D, BiasAdd, Relu, MaxPool: the converter stops with
    ERROR_NEEDS_FLEX_OPS), and which CPUs serving it gain nothing from. Its variables are float32
    under that policy, so the copy holds exactly the trained values.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy('float32')
    try:
        copy = build_model()
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(model.get_weights())
    return copy
