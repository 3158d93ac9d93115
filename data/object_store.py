"""Object storage (s3://, gs://) as an output root: telling URIs from paths, making TensorFlow
and Beam able to write there, and checking the store answers before anything starts.

TensorFlow 2.16 reads and writes gs:// by itself and s3:// only once tensorflow-io is
imported (it registers the scheme). Beam's components (ExampleGen, StatisticsGen, Transform,
Evaluator) write through Beam's own filesystems: gs:// with apache-beam[gcp], s3:// with boto3.
The two S3 clients read different variables: TensorFlow's `S3_ENDPOINT` (with its http:// or
https:// scheme), boto3's `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`; `prepare` sets whichever
is missing from the other, so a user sets one.
"""

import gc
import os
import socket
import sys
import threading
import urllib.parse
from typing import List

OBJECT_STORE_SCHEMES = ('s3', 'gs')
PROBE_TIMEOUT_SECONDS = 20.0
CONNECT_TIMEOUT_SECONDS = 5.0

_ENDPOINT_VARIABLES = ('S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL')
_s3_in_use = False


class StoreError(Exception):
    """An object store that cannot be used; the message is one line naming the URI."""


def scheme(path: str) -> str:
    """'s3', 'gs', ... for a URI; '' for a local path (file:// included)."""
    if '://' not in path:
        return ''
    name = path.split('://', 1)[0].lower()
    return '' if name == 'file' else name


def is_remote(path: str) -> bool:
    return bool(scheme(path))


def join(*parts: str) -> str:
    """Joins path parts with '/', which every filesystem here accepts (os.path.join is for
    local paths only)."""
    return '/'.join([parts[0].rstrip('/')] + [p.strip('/') for p in parts[1:]])


def absolute(path: str) -> str:
    """A URI unchanged (os.path would turn 'gs://b/x' into './gs:/b/x'); a path made absolute."""
    if is_remote(path):
        name, rest = path.split('://', 1)
        return f'{name}://{rest.rstrip("/")}'
    if path.startswith('file://'):
        path = path[len('file://'):]
    return os.path.abspath(path)


def check_scheme(uri: str) -> None:
    if is_remote(uri) and scheme(uri) not in OBJECT_STORE_SCHEMES:
        raise StoreError(f'{uri}: unsupported storage scheme {scheme(uri)}:// '
                         f'(use a local path, s3:// or gs://)')
    if is_remote(uri) and not uri.split('://', 1)[1].split('/', 1)[0]:
        raise StoreError(f'{uri}: no bucket named')


def _s3_environment() -> None:
    endpoint = next((os.environ[v] for v in _ENDPOINT_VARIABLES if os.environ.get(v)), '')
    if endpoint:
        if '://' not in endpoint:  # TensorFlow accepts a bare host; boto3 does not
            secure = os.environ.get('S3_USE_HTTPS', '1') != '0'
            endpoint = ('https://' if secure else 'http://') + endpoint
        os.environ.setdefault('S3_ENDPOINT', endpoint)
        os.environ.setdefault('AWS_ENDPOINT_URL_S3', endpoint)
    region = os.environ.get('AWS_REGION') or os.environ.get('AWS_DEFAULT_REGION')
    if region:
        os.environ.setdefault('AWS_REGION', region)
        os.environ.setdefault('AWS_DEFAULT_REGION', region)


def beam_args(uri: str) -> List[str]:
    """Beam arguments that let Beam's worker processes write to `uri` with TensorFlow: each
    worker imports the plugin modules at start, and importing tensorflow_io registers s3://."""
    return ['--beam_plugin=tensorflow_io'] if scheme(uri) == 's3' else []


def _unreachable_endpoint(uri: str) -> str:
    """Why the S3 endpoint takes no connection ('' when it does, or when none is set)."""
    endpoint = os.environ.get('S3_ENDPOINT', '') if scheme(uri) == 's3' else ''
    if not endpoint:
        return ''
    parsed = urllib.parse.urlsplit(endpoint if '://' in endpoint else 'http://' + endpoint)
    try:
        port = parsed.port or (443 if parsed.scheme == 'https' else 80)
        with socket.create_connection((parsed.hostname, port), timeout=CONNECT_TIMEOUT_SECONDS):
            return ''
    except ValueError as e:
        return f'{uri}: S3 endpoint {endpoint} is not a URL ({e})'
    except OSError as e:
        return f'{uri}: cannot reach the S3 endpoint {endpoint} ({e.strerror or e})'


def probe(uri: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> str:
    """Why `uri` cannot be written ('' when it can): writes and deletes one small object.

    The S3 client TensorFlow uses retries a closed port for minutes (`prepare` reports an
    endpoint that takes no TCP connection at once): the write gives up after `timeout`
    seconds, leaving its thread behind (the caller exits with `exit_now`)."""
    from tfx.dsl.io import fileio
    probe_file = f'{uri.rstrip("/")}/.write-check-{os.getpid()}'
    outcome: List[str] = []

    def attempt():
        try:
            with fileio.open(probe_file, 'wb') as f:
                f.write(b'ok')
            fileio.remove(probe_file)
            outcome.append('')
        except Exception as e:
            # Any filesystem error (no bucket, refused credentials, no connection) is the
            # answer; its first line is what the user needs.
            outcome.append(' '.join(str(e).split()) or type(e).__name__)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f'{uri}: no answer from the store within {timeout:.0f} s' + _endpoint_hint(uri)
    return f'{uri}: cannot write there ({outcome[0]})' if outcome[0] else ''


def _endpoint_hint(uri: str) -> str:
    if scheme(uri) == 's3':
        return f' (endpoint {os.environ.get("S3_ENDPOINT") or "AWS default"})'
    return ''


def prepare(uri: str) -> str:
    """Why `uri` cannot be used ('' when it can be tried), found quickly: the scheme, the S3
    endpoint taking a connection (before TensorFlow's import, which takes seconds), the
    packages. Then TensorFlow and Beam in this process can read and write there."""
    global _s3_in_use
    try:
        check_scheme(uri)
    except StoreError as e:
        return str(e)
    if scheme(uri) != 's3':
        return ''
    _s3_environment()
    problem = _unreachable_endpoint(uri)
    if problem:
        return problem
    try:
        import tensorflow_io  # noqa: F401
        import boto3  # noqa: F401
    except ImportError as e:
        return f'{uri}: s3:// needs the {e.name} package (make install installs it)'
    _s3_in_use = True  # registered: the process must end with exit_now
    return ''


def check(uri: str) -> str:
    """Why a run cannot write under `uri` ('' when it can), found before anything is made:
    `prepare`, then one object written and deleted."""
    return prepare(uri) or probe(uri)


def exit_now(code: int, abandon_threads: bool = False) -> None:
    """Ends the process with `code`: flushes the output, then, when s3:// was used (or a probe
    thread is stuck in a store's client), skips the interpreter's teardown, where
    tensorflow-io 0.37.1 (the last release for TensorFlow 2.16) aborts with "pure virtual
    method called" and exit 134 (tensorflow/io#2039).

    Otherwise the teardown runs (atexit handlers, threads joined, objects released as their
    references drop) without its last cycle collection over every object TensorFlow, TFX and
    Beam made: the work is done, and that collection is most of the teardown's time. So a
    caller closes what it wrote first: objects in reference cycles are not finalized."""
    sys.stdout.flush()
    sys.stderr.flush()
    if _s3_in_use or abandon_threads:
        os._exit(code)
    gc.freeze()
    sys.exit(code)
