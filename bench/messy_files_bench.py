"""Phone photos stored sideways and 16-bit scans against the same images stored plainly.

    python data/colour_digits.py --out /tmp/photos --per-class 100 --test-share 0.3
    python bench/messy_files_bench.py /tmp/photos [--epochs 3]

A benchmark, not a test: it rewrites a folder data set four ways, image by image,
  upright      the pixels upright, JPEG (quality 95)
  sideways     the same pixels turned a quarter, JPEG (quality 95), EXIF Orientation 6
               (what a phone writes for a photo taken upright)
  gray 8-bit   gray, 8-bit PNG
  gray 16-bit  the same gray values as a 16-bit PNG using 12 bits (value x 16, as scanners
               and microscopes write them)
trains the pipeline on each (train and test folders as written, same options) and prints the
test accuracy of each, then scores each pair's second folder with the first's pushed model
through `predict`'s reading of files.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_bench  # noqa: E402

VARIANTS = ('upright', 'sideways', 'gray-8bit', 'gray-16bit')


def write_variants(source: str, out: str) -> None:
    from PIL import Image
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    for folder, _, names in os.walk(source):
        for name in names:
            path = os.path.join(folder, name)
            relative = os.path.splitext(os.path.relpath(path, source))[0]
            with Image.open(path) as image:
                rgb = image.convert('RGB')
            gray = np.asarray(rgb.convert('L'))
            for variant in VARIANTS:
                target = os.path.join(out, variant, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if variant == 'upright':
                    rgb.save(target + '.jpg', quality=95)
                elif variant == 'sideways':
                    # Displayed turned 90 degrees clockwise: stored turned counter-clockwise.
                    rgb.transpose(Image.Transpose.ROTATE_90).save(target + '.jpg', quality=95,
                                                                  exif=exif)
                elif variant == 'gray-8bit':
                    Image.fromarray(gray).save(target + '.png')
                else:
                    Image.fromarray(gray.astype(np.uint16) * 16).save(target + '.png')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('photos', help='a folder data set with train/ and test/ class folders')
    parser.add_argument('--epochs', type=int, default=3)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix='messy-files-')
    write_variants(args.photos, os.path.join(work, 'data'))
    from image_tfx.data import sources
    from image_tfx.tools import predict
    rows, pushed = [], {}
    for variant in VARIANTS:
        data, root = os.path.join(work, 'data', variant), os.path.join(work, variant)
        print(f'pipeline on {variant} ...', file=sys.stderr)
        seconds = pipeline_bench.run_pipeline(root, [
            '--data', data, '--epochs', str(args.epochs), '--pipeline-name', 'photos',
            '--accuracy-threshold', '0', '--max-int8-accuracy-drop', '0.05'])
        _, _, _, summary, _ = pipeline_bench.read_run(root, 'photos')
        if not summary.pushed_to:
            sys.exit(f'{variant}: nothing pushed ({summary.not_pushed_reason}); see {root}')
        test = summary.tflite['test']['saved_model']['accuracy']
        rows.append((f'{variant}: trained, test accuracy', f'{test:.4f} ({seconds:.0f} s)'))
        pushed[variant] = summary.pushed_to
    for reference, other in (('upright', 'sideways'), ('gray-8bit', 'gray-16bit')):
        model = predict.Model(pushed[reference], 'savedmodel')
        for variant in (reference, other):
            source = sources.detect_source(os.path.join(work, 'data', variant))
            files, _ = sources.image_files(source, sources.SOURCE_TEST)
            right = 0
            for path, label in files:  # labels: class folders in order, as the model's
                ((_, image),) = predict.read_images(path)
                probabilities, _ = model.predict(
                    predict.prepare(image, model.shape, model.preparation))
                right += int(np.argmax(probabilities) == label)
            rows.append((f'{variant} test files, {reference} model (predict)',
                         f'{right / len(files):.4f}'))
    for name, value in rows:
        print(f'{name:<50}{value}')
    print(f'(data and runs under {work})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
