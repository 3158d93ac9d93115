"""Output roots in object storage, proven against a real S3-protocol server (tests/s3_server.py).

A local run with `--output-root s3://bucket/runs` writes every artifact, the pushed version
and the report to the bucket (TensorFlow through tensorflow-io, Beam through boto3) and keeps
ML Metadata local; a second run on other data reads its baselines back from the bucket;
`inspect` reads the runs and follows `lineage s3://...`. A store that cannot be used is one
line, exit 2, within seconds, with nothing made locally.
"""

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time

import pytest

import tf_serving
from conftest import REPO, RUN_LOCAL, write_idx_dir
from s3_server import free_port
from image_tfx.data import object_store
from image_tfx.records import metadata
from image_tfx.pipeline import nodes as pipeline_def
from image_tfx.runner import options
from image_tfx.runner.config import RunConfig

PIPELINE = 'mnist'
BUCKET = 'pipeline'
ROOT = f's3://{BUCKET}/runs'


def test_uris_stay_uris():
    for root in ('s3://bucket/runs', 's3://bucket/runs/', 'gs://bucket/runs'):
        config = RunConfig(output_root=root, metadata='/tmp/m.sqlite')
        base = root.rstrip('/')
        assert config.root == base
        assert config.pipeline_root == f'{base}/tfx/{PIPELINE}'
        assert config.serving_dir == f'{base}/serving/{PIPELINE}'
        assert config.reports_dir == f'{base}/reports/{PIPELINE}'
        assert config.metadata_problem() == ''
    local = RunConfig(output_root='outputs')
    assert local.root == os.path.abspath('outputs') and not local.remote
    assert RunConfig(output_root='file:///tmp/x').root == '/tmp/x'
    assert object_store.absolute('s3://b/') == 's3://b'


EXIT_PROBE = """
import atexit, os
from image_tfx.data import object_store

class Cycle:
    def __del__(self, write=os.write):
        write(1, b'cycle collected')

kept = Cycle()
kept.self = kept
atexit.register(print, 'atexit ran', end='|')
print('unflushed', end='|')
object_store.exit_now(3)
"""


def test_exit_keeps_the_teardown_but_not_its_last_collection():
    """The last step of a run, predict, inspect and the converters' child processes: the code,
    the output and the atexit handlers as with sys.exit, without collecting what was alive at
    the end once more."""
    done = subprocess.run([sys.executable, '-c', EXIT_PROBE], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (3, 'unflushed|atexit ran|', '')


def test_console_scripts_end_as_python_dash_m_does():
    """image-tfx-run, -predict and -inspect end through exit_now (s3:// needs it), as
    `python -m` and run_local.py do."""
    from importlib import metadata as dist
    scripts = {e.name: e.value for e in dist.entry_points(group='console_scripts')
               if e.name.startswith('image-tfx-')}
    for name in ('image-tfx-run', 'image-tfx-predict', 'image-tfx-inspect'):
        assert scripts[name].endswith(':run_command'), scripts


def test_ml_metadata_must_be_local():
    assert 'add --metadata' in RunConfig(output_root='s3://b/r').metadata_problem()
    assert 'cannot live in object storage' in RunConfig(
        output_root='s3://b/r', metadata='s3://b/m.sqlite').metadata_problem()
    assert RunConfig(output_root='s3://b/r', metadata='mysql://u@h:3306/db'
                     ).metadata_problem() == ''
    assert 'no bucket named' in RunConfig(output_root='s3:///x', metadata='m').metadata_problem()
    assert 'unsupported storage scheme hdfs://' in RunConfig(
        output_root='hdfs://x/y', metadata='m').metadata_problem()


def test_beam_workers_get_s3_too():
    """Beam's worker processes import tensorflow_io (a plugin), which registers s3://."""
    config = RunConfig(output_root='s3://b/r', metadata='m')
    for count in (10, 10**9):  # in memory, and worker processes
        assert options.beam_pipeline_args(config, count)[-1] == '--beam_plugin=tensorflow_io'
    assert options.beam_pipeline_args(RunConfig(output_root='s3://b/r', beam_pipeline_args=(
        '--runner=DirectRunner',)))[-1] == '--beam_plugin=tensorflow_io'
    assert not [a for a in options.beam_pipeline_args(RunConfig(output_root='gs://b/r'))
                if 'plugin' in a]
    assert not [a for a in options.beam_pipeline_args(RunConfig()) if 'plugin' in a]


def test_publish_on_object_storage_puts_saved_model_pb_last(monkeypatch):
    """No rename on object storage: the version's files are copied with saved_model.pb last,
    and a folder without it is no version (TF's in-memory ram:// filesystem stands in for a
    bucket here: a URI, not a local path)."""
    from tfx.dsl.io import fileio
    from image_tfx.components import pushed_layout, storage
    serving = f'ram://serving-{os.getpid()}/mnist'
    staging = f'{serving}/.7.partial'
    for name in ('assets.extra/model_card.json', 'variables/variables.index', 'saved_model.pb',
                 'fingerprint.pb'):
        storage.makedirs(storage.join(staging, name).rsplit('/', 1)[0])
        storage.write_text(storage.join(staging, name), name)
    copied, copy = [], fileio.copy

    def recording_copy(source, target, overwrite=False):
        copied.append(target.rsplit('/7/', 1)[1])
        if os.environ.get('FAIL_AFTER') and len(copied) == int(os.environ['FAIL_AFTER']):
            raise OSError('connection lost')
        copy(source, target, overwrite=overwrite)

    monkeypatch.setattr(fileio, 'copy', recording_copy)
    monkeypatch.setenv('FAIL_AFTER', '2')
    with pytest.raises(OSError):
        pushed_layout.publish(staging, f'{serving}/7')
    assert pushed_layout.versions(serving) == []  # copied in part: not a version
    monkeypatch.delenv('FAIL_AFTER')
    copied.clear()
    pushed_layout.publish(staging, f'{serving}/7')
    assert copied[-1] == 'saved_model.pb' and len(copied) == 4
    assert pushed_layout.versions(serving) == ['7']
    assert not fileio.exists(staging)
    assert storage.read_text(f'{serving}/7/saved_model.pb') == 'saved_model.pb'


def _run(args, env, cwd, timeout=900):
    return subprocess.run([sys.executable, RUN_LOCAL, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


@pytest.fixture(scope='module', autouse=True)
def bucket(s3):
    return s3.make_bucket(BUCKET)


@pytest.mark.parametrize('case', ['closed port', 'no bucket', 'no metadata'])
def test_unusable_store_is_one_line_and_leaves_nothing(case, s3, tmp_path, digits):
    images, labels = digits
    data = write_idx_dir(tmp_path / 'data', images[:50], labels[:50])
    work = tmp_path / 'work'
    work.mkdir()
    env, root, extra = s3.env(os.environ), ROOT, ['--metadata', 'md/mnist.sqlite']
    if case == 'closed port':
        env['S3_ENDPOINT'] = f'http://127.0.0.1:{free_port()}'
    elif case == 'no bucket':
        root = 's3://no-such-bucket/runs'
    else:
        extra = []
    started = time.monotonic()
    result = _run(['--data', data, '--output-root', root, *extra], env, str(work), timeout=120)
    took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'error: {root}: '), result.stderr
    assert {'closed port': 'cannot reach the S3 endpoint', 'no bucket': 'NoSuchBucket',
            'no metadata': '--metadata'}[case] in lines[0]
    assert took < 30, took  # no retry loop (the S3 client's own retries last minutes)
    assert os.listdir(work) == []  # no ML Metadata, no local folder named after the URI
    assert s3.objects(ROOT) == {} or case == 'no bucket'


@pytest.fixture(scope='module')
def s3_runs(s3, tmp_path_factory, digits):
    """A local run into s3://pipeline/runs (ML Metadata in a local SQLite file) on 400 digits.
    Reading baselines back from a bucket is proven by the emulated Kubeflow runs
    (test_kubeflow.py), through the same components."""
    images, labels = digits
    tmp = tmp_path_factory.mktemp('s3-e2e')
    work = tmp / 'work'
    work.mkdir()
    md = tmp / 'md' / 'mnist.sqlite'
    env = s3.env(os.environ)
    common = ['--epochs', '1', '--accuracy-threshold', '0.3', '--max-int8-accuracy-drop',
              '0.05', '--max-accuracy-drop', '1', '--allow-drift', '--output-root', ROOT,
              '--metadata', str(md)]
    data = write_idx_dir(tmp / 'data', images[:400], labels[:400], images[4000:4100],
                         labels[4000:4100])
    first = _run(['--data', data, *common], env, str(work))
    return {'first': first, 'md': str(md), 'work': work, 'env': env, 'tmp': tmp}


def _nodes(md):
    """Node runs of the run."""
    store = metadata.open_store(md)
    return metadata.node_runs(store, PIPELINE, metadata.run_ids(store, PIPELINE)[0])


def test_run_writes_every_artifact_to_the_bucket(s3_runs, s3):
    first = s3_runs['first']
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert f'artifacts under {ROOT}/tfx/{PIPELINE}' in first.stdout
    assert f'pushed to:   {ROOT}/serving/{PIPELINE}/' in first.stdout
    # Nothing local but ML Metadata: no folder named after the URI in the working directory.
    assert os.listdir(s3_runs['work']) == []
    objects = s3.objects(ROOT)
    nodes = _nodes(s3_runs['md'])
    assert set(nodes) == set(pipeline_def.COMPONENTS)
    for component, node in nodes.items():
        assert node.state == 'complete', component
        for key, artifacts in node.outputs.items():
            for artifact in artifacts:
                assert artifact.uri.startswith(f'{ROOT}/tfx/{PIPELINE}/{component}/'), \
                    artifact.uri
                prefix = artifact.uri[len(ROOT) + 1:] + '/'
                held = [k for k in objects if k.startswith(prefix)]
                # Empty by design: a first run's baselines (nothing pushed yet), and
                # Transform's analyzer cache (no cacheable analyzer). On S3 an empty folder
                # is no object at all.
                empty_ok = component in (pipeline_def.BASELINE_MODEL,
                                         pipeline_def.BASELINE_STATISTICS) or (
                    key == 'updated_analyzer_cache')
                assert held or empty_ok, f'{component}.{key}: nothing at {artifact.uri}'
    reports = [k for k in objects if k.startswith(f'reports/{PIPELINE}/')]
    assert len(reports) == 1 and reports[0].endswith('.html')
    assert b'</html>' in s3.read(f'{ROOT}/{reports[0]}')


def test_pushed_version_is_complete_in_the_bucket_and_serves(s3_runs, s3, tmp_path):
    pushed = _nodes(s3_runs['md'])[pipeline_def.PUSHER].outputs['pushed_model'][0]
    version_uri = pushed.custom_properties['pushed_destination'].string_value
    version = version_uri.rsplit('/', 1)[1]
    assert version_uri == f'{ROOT}/serving/{PIPELINE}/{version}'
    # Exactly the files of the manifest recorded in ML Metadata, byte for byte; no staging
    # prefix left behind.
    files = json.loads(pushed.custom_properties['files'].string_value)
    held = s3.objects(version_uri)
    assert set(held) == set(files)
    for name, entry in files.items():
        content = s3.read(f'{version_uri}/{name}')
        assert (len(content), hashlib.sha256(content).hexdigest()) == (
            entry['bytes'], entry['sha256']), name
    assert not [k for k in s3.objects(f'{ROOT}/serving/{PIPELINE}') if '.partial' in k]
    # TF Serving's stand-in loads the version as pushed and answers with it.
    base = tmp_path / PIPELINE
    s3.download(version_uri, str(base / version))
    servable = tf_serving.Servable(str(base))
    assert servable.version == int(version) and servable.warmup_records == 4


def test_predict_runs_a_version_in_the_bucket(s3_runs, tmp_path, digits):
    from PIL import Image
    images, labels = digits
    png = tmp_path / f'digit-{labels[4000]}.png'
    Image.fromarray(images[4000]).save(png)
    pushed = _nodes(s3_runs['md'])[pipeline_def.PUSHER].outputs['pushed_model'][0]
    version_uri = pushed.custom_properties['pushed_destination'].string_value
    for fmt in ('int8', 'savedmodel'):
        result = subprocess.run([sys.executable, '-m', 'image_tfx.tools.predict', version_uri,
                                 str(png), '--format', fmt], capture_output=True, text=True,
                                timeout=300, cwd=REPO, env=s3_runs['env'])
        assert result.returncode == 0, result.stderr
        assert f'{png}: ' in result.stdout and f'({fmt}, 1 image)' in result.stdout


def _inspect(*args, env):
    return subprocess.run([sys.executable, '-m', 'image_tfx.records.inspect', *args],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env=env)


def test_inspect_reads_the_runs_and_follows_lineage_from_the_bucket(s3_runs):
    env = s3_runs['env']
    listed = _inspect('runs', '--output-root', ROOT, '--metadata', s3_runs['md'], env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count('complete') == 1
    pushed = _nodes(s3_runs['md'])[pipeline_def.PUSHER].outputs['pushed_model'][0]
    tflite = (pushed.custom_properties['pushed_destination'].string_value
              + '/assets.extra/model_int8.tflite')
    lineage = _inspect('lineage', tflite, '--metadata', s3_runs['md'], '--json', env=env)
    assert lineage.returncode == 0, lineage.stderr
    text = lineage.stdout
    assert json.loads(text)['type'] == 'PushedModel'
    assert f'{ROOT}/tfx/{PIPELINE}/ImageExampleGen/examples/' in text
    # Without --metadata, one line saying so.
    refused = _inspect('runs', '--output-root', ROOT, env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f'error: {ROOT}: ML Metadata cannot live in object storage; add --metadata '
        'FILE.sqlite (a local file) or --metadata mysql://...']
    # A report written into the bucket, read back.
    report = _inspect('report', '--metadata', s3_runs['md'], '--out',
                      f's3://{BUCKET}/shared/report.html', env=env)
    assert report.returncode == 0, report.stderr



# Every command in README.md and docs/ that names a gs:// or s3:// location, run with the
# S3 server standing in for the store (any bucket becomes DOCS_BUCKET, same path).
DOCS_BUCKET = 'docs'
DOC_FILES = [os.path.join(REPO, 'README.md')] + sorted(
    os.path.join(REPO, 'docs', name) for name in os.listdir(os.path.join(REPO, 'docs'))
    if name.endswith('.md'))
STORE_URI = re.compile(r'\b(?:gs|s3)://[\w.-]+')


def doc_commands(program: str):
    """(file, argument list) of each command line for `program` naming a gs:// or s3:// URI
    in a code block (indented or fenced); continuation lines joined, comments and `...`
    dropped."""
    found = []
    for path in DOC_FILES:
        with open(path, encoding='utf-8') as f:
            text = f.read().replace('\\\n', ' ')
        fenced = False
        for line in text.splitlines():
            if line.lstrip().startswith('```'):
                fenced = not fenced
                continue
            if not (fenced or line.startswith('    ')):
                continue
            line = line.split(' #', 1)[0].strip()
            if program not in line or not STORE_URI.search(line):
                continue
            words = [w for w in shlex.split(line) if w != '...']
            index = next(i for i, w in enumerate(words) if w.endswith(program))
            found.append((os.path.relpath(path, REPO), words[index + 1:]))
    return found


def test_docs_name_object_store_commands():
    assert doc_commands('run_local.py') and doc_commands('compile.py')


@pytest.mark.parametrize('doc,args', doc_commands('run_local.py'))
def test_run_local_commands_in_the_docs_honour_their_store(doc, args, s3, tmp_path, digits):
    from image_tfx.runner import local as run_local
    config = options.config_from_args(run_local.parse_args(args))
    root = args[args.index('--output-root') + 1]
    assert config.root == root.rstrip('/') and config.pipeline_root.startswith(root), doc
    assert config.metadata_problem() == '', doc
    # The same command, dry run, on the S3 server: the data read from the bucket, the root
    # probed, every location printed under the root given.
    if DOCS_BUCKET not in [b['Name'] for b in s3.client.list_buckets()['Buckets']]:
        s3.make_bucket(DOCS_BUCKET)
    args = [STORE_URI.sub(f's3://{DOCS_BUCKET}', a) for a in args]
    if '--data' in args:
        data = args[args.index('--data') + 1]
        images, labels = digits
        local = write_idx_dir(tmp_path / 'data', images[:50], labels[:50])
        for name in os.listdir(local):
            bucket, _, key = data[len('s3://'):].partition('/')
            s3.client.upload_file(os.path.join(local, name), bucket, f'{key}/{name}')
    work = tmp_path / 'work'
    work.mkdir()
    result = _run([*args, '--dry-run'], s3.env(os.environ), str(work), timeout=300)
    assert result.returncode == 0, f'{doc}: {result.stderr}'
    s3_root = STORE_URI.sub(f's3://{DOCS_BUCKET}', root).rstrip('/')
    assert f'artifacts under {s3_root}/tfx/' in result.stdout, result.stdout
    assert f'pushed to:   {s3_root}/serving/' in result.stdout
    for arg in config.beam_pipeline_args:
        assert arg in result.stdout  # e.g. --runner=DataflowRunner, passed on as given


@pytest.mark.parametrize('doc,args', doc_commands('compile.py'))
def test_compile_commands_in_the_docs_honour_their_root(doc, args, tmp_path):
    import yaml
    args = [a.replace('$TAG', 'test') for a in args]
    output = tmp_path / 'pipeline.yaml'
    result = subprocess.run([sys.executable, os.path.join(REPO, 'kubeflow', 'compile.py'),
                             *args, '--output', str(output)], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, f'{doc}: {result.stderr}'
    root = args[args.index('--pipeline-root') + 1].rstrip('/')
    with open(output, encoding='utf-8') as f:
        spec = next(yaml.safe_load_all(f))
    assert spec['defaultPipelineRoot'] == f'{root}/mnist', doc
