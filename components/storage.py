"""File operations of this pipeline's components, for local paths and object storage alike.

Component outputs live under the pipeline root, which on Kubeflow is a gs:// or s3:// URI;
these helpers go through TFX's `fileio` (TensorFlow's filesystems), never `os`/`shutil`.
Kubeflow's launcher, unlike TFX's local one, does not create an output artifact's folder, so a
component that writes files into its output calls `makedirs` first.
"""

import hashlib
from typing import Dict, Iterator, Tuple

from tfx.dsl.io import fileio

from image_tfx.data import object_store
from image_tfx.data.object_store import join  # noqa: F401  (re-exported)


def makedirs(path: str) -> None:
    fileio.makedirs(path)


def exists(path: str) -> bool:
    return fileio.exists(path)


def rename(source: str, target: str) -> None:
    fileio.rename(source, target, overwrite=True)


def read_bytes(path: str) -> bytes:
    with fileio.open(path, 'rb') as f:
        return f.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode('utf-8')


def write_bytes(path: str, content: bytes) -> None:
    with fileio.open(path, 'wb') as f:
        f.write(content)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode('utf-8'))


def size(path: str) -> int:
    return int(fileio.stat(path).length)


def files(folder: str) -> Iterator[Tuple[str, str]]:
    """(path, path relative to folder) of every file under a folder, sorted."""
    found = []
    for root, _, names in fileio.walk(folder):
        root = root.decode() if isinstance(root, bytes) else root
        for name in names:
            name = name.decode() if isinstance(name, bytes) else name
            path = join(root, name)
            found.append((path, path[len(folder.rstrip('/')) + 1:]))
    return iter(sorted(found, key=lambda item: item[1]))


def folder_bytes(folder: str) -> int:
    """Total size of the files under a folder (a SavedModel's, say)."""
    return sum(size(path) for path, _ in files(folder))


def copy_tree(source: str, target: str) -> None:
    for path, relative in files(source):
        destination = join(target, relative)
        fileio.makedirs(destination.rsplit('/', 1)[0])
        fileio.copy(path, destination, overwrite=True)


def remove_tree(path: str) -> None:
    if fileio.exists(path):
        fileio.rmtree(path)


def manifest(folder: str) -> Dict[str, Dict[str, int]]:
    """Every file under a folder: relative path -> bytes and SHA-256."""
    return {relative: {'bytes': size(path),
                       'sha256': hashlib.sha256(read_bytes(path)).hexdigest()}
            for path, relative in files(folder)}


def remove_directory_markers(uri: str) -> None:
    """Deletes the zero-byte `folder/` objects under an object-store URI wherever the folder
    holds something. An empty folder keeps its marker.

    TensorFlow's GCS filesystem writes such a marker for every folder it creates. Kubeflow's
    launcher copies an input artifact object by object before a task runs, and a marker turns
    into a file where a folder must go (kubeflow/pipelines#13476). Object stores have no
    folders: a folder stays visible through what it holds.
    """
    if not object_store.is_remote(uri) or not fileio.exists(uri):
        return
    for folder, subfolders, files in list(fileio.walk(uri)):
        if not (subfolders or files):
            continue
        try:
            fileio.remove(folder.rstrip('/') + '/')
        except fileio.NotFoundError:
            pass  # no marker there (GCS says so; S3 deletes idempotently)
