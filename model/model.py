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
