"""What each training lever gives the edge network, with bare Keras on a glyph data set.

    python data/make_glyphs.py --classes 200 --out /tmp/glyphs200 --per-font 6 --size 32
    python bench/edge_levers.py --data /tmp/glyphs200 --epochs 8 [--network mobilenet]
        [--no-augment] [--rotation 0.05] [--shear 0.2] [--aspect 0.3] [--dropout 0.4]
        [--width 1.5] [--resolution 48] [--constant-rate] [--warmup 0] [--seed 1]

A benchmark, not a test: it prints figures and asserts nothing. It trains one variant on the
whole train split of a folder data set (class folders under train/ and test/, as
make_glyphs.py writes them) and scores it on the test split (the held-out typefaces): per
epoch, at the end, per font file, and the class pairs it confuses most. The network is the
edge network of model/model.py (four stages of two 3x3 convolutions, batch normalisation,
ReLU, 16-32-64-128 channels times --width) or Keras' MobileNetV3-Small, with the levers the
pipeline does not expose as options (rotation, shear and aspect of the augmentation, dropout,
a constant rate) so that each can be tried. The recipe is model/model.py's by default: Adam
rising from zero to --learning-rate over the first tenth of the fit and falling on a cosine to
zero, rotation 0.03, zoom 0.2, shift 0.1, dropout 0.2.
"""

import argparse
import collections
import os
import sys
import time

import numpy as np


def load(root: str, split: str, classes):
    from PIL import Image
    images, labels, fonts = [], [], []
    for label, name in enumerate(classes):
        folder = os.path.join(root, split, name)
        for file in sorted(os.listdir(folder)):
            images.append(np.asarray(Image.open(os.path.join(folder, file)).convert('RGB')))
            labels.append(label)
            fonts.append(file.rsplit('-', 1)[0])
    return np.stack(images), np.array(labels), np.array(fonts)


def build(args, shape, classes: int):
    import keras
    layers = keras.layers
    inputs = keras.Input(shape)
    x = layers.Rescaling(1 / 255)(inputs)  # the pipeline's Transform does this
    side = args.resolution or min(shape[0], 32)
    if side != shape[0]:
        x = layers.Resizing(side, side)(x)
    if args.augment:
        x = layers.RandomRotation(args.rotation, fill_mode='nearest')(x)
        x = layers.RandomZoom(0.2, args.aspect or None, fill_mode='nearest')(x)
        x = layers.RandomTranslation(0.1, 0.1, fill_mode='nearest')(x)
        if args.shear:
            x = layers.RandomShear(args.shear, 0, fill_mode='nearest')(x)
    if args.network == 'mobilenet':
        backbone = keras.applications.MobileNetV3Small(
            input_shape=(side, side, 3), alpha=args.width, include_top=False, weights=None,
            pooling='avg', include_preprocessing=False)
        for layer in backbone.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = 0.9
        x = backbone(x)
    else:
        for stage, channels in enumerate((16, 32, 64, 128)):
            for _ in range(2):
                x = layers.Conv2D(max(8, int(round(channels * args.width))), 3,
                                  padding='same', use_bias=False)(x)
                x = layers.BatchNormalization(momentum=0.9)(x)
                x = layers.ReLU()(x)
            if stage < 3:
                x = layers.MaxPooling2D()(x)
        x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(args.dropout)(x)
    return keras.Model(inputs, layers.Dense(classes, activation='softmax')(x))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', required=True)
    parser.add_argument('--network', choices=('edge', 'mobilenet'), default='edge')
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--learning-rate', type=float, default=2e-3)
    parser.add_argument('--constant-rate', action='store_true')
    parser.add_argument('--warmup', type=float, default=None,
                        help='share of the fit over which the rate first rises from zero '
                             '(default: model.py\'s EDGE_WARMUP; 0: none)')
    parser.add_argument('--augment', action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument('--rotation', type=float, default=0.03, help='of a full turn')
    parser.add_argument('--shear', type=float, default=0.0)
    parser.add_argument('--aspect', type=float, default=0.0,
                        help='zoom the width apart from the height by up to this')
    parser.add_argument('--dropout', type=float, default=0.2)
    parser.add_argument('--width', type=float, default=1.0)
    parser.add_argument('--resolution', type=int, default=0,
                        help="side the network runs at (default: the images' own, up to 32)")
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    import keras
    import tensorflow as tf
    from image_tfx.model.model import EDGE_WARMUP, edge_schedule

    classes = sorted(os.listdir(os.path.join(args.data, 'train')))
    x_train, y_train, _ = load(args.data, 'train', classes)
    x_test, y_test, fonts = load(args.data, 'test', classes)
    keras.utils.set_random_seed(args.seed)
    model = build(args, x_train.shape[1:], len(classes))
    steps = -(-len(y_train) // args.batch_size) * args.epochs
    rate = args.learning_rate if args.constant_rate else \
        edge_schedule(args.learning_rate, steps,
                      EDGE_WARMUP if args.warmup is None else args.warmup)
    model.compile(keras.optimizers.Adam(rate), 'sparse_categorical_crossentropy',
                  metrics=['accuracy'], steps_per_execution=32)
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(
        len(y_train)).batch(args.batch_size).prefetch(2)
    test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(256)
    started = time.time()

    class Line(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            tested = f', test {logs["val_accuracy"]:.4f}' if 'val_accuracy' in logs else ''
            print(f'epoch {epoch + 1}: {time.time() - started:.0f} s, loss {logs["loss"]:.3f}, '
                  f'train accuracy {logs["accuracy"]:.3f}{tested}', flush=True)

    model.fit(train, epochs=args.epochs, validation_data=test,
              validation_freq=max(1, args.epochs // 3), callbacks=[Line()], verbose=0)
    predicted = model.predict(x_test, batch_size=512, verbose=0).argmax(-1)
    print(f'test accuracy {np.mean(predicted == y_test):.4f} ({len(y_test):,} images, '
          f'{model.count_params():,} parameters, {time.time() - started:.0f} s)')
    for font in sorted(set(fonts)):
        mine = fonts == font
        print(f'  {font:<36}{np.mean(predicted[mine] == y_test[mine]):.3f}')
    pairs = collections.Counter((classes[t], classes[p]) for t, p in zip(y_test, predicted)
                                if t != p)
    print('most confused (true -> predicted, images):')
    for (true, guess), count in pairs.most_common(15):
        print(f'  {true} -> {guess}: {count}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
