"""Kubeflow: the compiled spec loads with the KFP SDK, matches the local DAG and the golden
file, executes task by task with TFX's Kubeflow v2 container entrypoint (tests/kfp_launcher.py),
and deploy.py sends the right calls to a Kubeflow Pipelines API (tests/kfp_server.py)."""

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO
import kfp_launcher
from kfp_server import KfpApiServer

COMPILE = os.path.join(REPO, 'kubeflow', 'compile.py')
DEPLOY = os.path.join(REPO, 'kubeflow', 'deploy.py')
GOLDEN = os.path.join(REPO, 'tests', 'golden', 'kubeflow_pipeline.yaml')
# The options the golden spec is compiled with (see test_golden_spec for refreshing it).
GOLDEN_ARGS = ['--image', 'ghcr.io/example/image-tfx:golden', '--pipeline-root',
               'gs://example-bucket/tfx', '--gpus', '1', '--cpu', '2', '--memory', '4G']
ENTRYPOINT = ['python', '-m', 'image_tfx.kubeflow.entrypoint']  # wraps TFX's v2 entrypoint


def compile_cli(tmp_path, *args):
    output = str(tmp_path / 'pipeline.yaml')
    process = subprocess.run([sys.executable, COMPILE, *args, '--output', output],
                             capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert process.returncode == 0, process.stderr[-3000:]
    return output


@pytest.fixture(scope='module')
def golden_compile(tmp_path_factory):
    """The spec compiled by the command line with GOLDEN_ARGS."""
    return compile_cli(tmp_path_factory.mktemp('compile'), *GOLDEN_ARGS)


def _normalized(text: str) -> str:
    # The model-code fingerprint changes with every edit of model/ and is tested elsewhere
    # (test_options.py); the golden file is about the spec's shape.
    return re.sub(r'(model_code_version\\?": \\?")[0-9a-f]{16}', r'\1<fingerprint>', text)


def test_golden_spec(golden_compile):
    """Refresh after an intended change: `make golden` (UPDATE_GOLDEN=1 for this test)."""
    with open(golden_compile, encoding='utf-8') as f:
        compiled = _normalized(f.read())
    if os.environ.get('UPDATE_GOLDEN'):
        os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
        with open(GOLDEN, 'w', encoding='utf-8') as f:
            f.write(compiled)
    with open(GOLDEN, encoding='utf-8') as f:
        golden = f.read()
    assert compiled == golden, ('the compiled Kubeflow spec changed; if intended, run '
                                '`make golden` and review the diff of ' + GOLDEN)


def test_spec_loads_with_kfp_and_matches_local_dag(golden_compile):
    from kfp import components
    from image_tfx.pipeline import pipeline as pipeline_def
    from image_tfx.runner import options
    from image_tfx.runner.config import RunConfig
    from image_tfx.data import sources

    component = components.load_component_from_file(golden_compile)
    defaults = RunConfig()
    assert {name: spec.default for name, spec in component.component_spec.inputs.items()} == {
        'data': '', 'epochs': defaults.epochs, 'batch_size': defaults.batch_size,
        'learning_rate': defaults.learning_rate,
        'accuracy_threshold': defaults.accuracy_threshold}
    assert component.name == 'mnist'

    spec = kfp_launcher.load_spec(golden_compile)
    tasks = spec['root']['dag']['tasks']

    compiled = {}
    for name, task in tasks.items():
        deps = set(task.get('dependentTasks', [])) | {
            a['taskOutputArtifact']['producerTask']
            for a in task.get('inputs', {}).get('artifacts', {}).values()}
        compiled[name] = deps
    # The same DAG as the local runner's, baselines included (no resolver on either).
    local = pipeline_def.create_pipeline(**options.pipeline_kwargs(
        defaults, sources.detect_source(sources.default_data_path()),
        schema_file=os.path.join(REPO, 'schema', 'schema.pbtxt')))
    assert compiled == {c.id: {u.id for u in c.upstream_nodes} for c in local.components}
    # Tasks that read a location KFP's cache key does not cover run every time.
    for name, task in tasks.items():
        assert task.get('cachingOptions', {}).get('enableCache', True) == (
            name not in (pipeline_def.EXAMPLE_GEN, pipeline_def.BASELINE_STATISTICS,
                         pipeline_def.BASELINE_MODEL)), name

    containers = {label: executor['container']
                  for label, executor in spec['deploymentSpec']['executors'].items()
                  if 'container' in executor}
    assert len(containers) == len(pipeline_def.COMPONENTS)
    for container in containers.values():
        assert container['image'] == 'ghcr.io/example/image-tfx:golden'
        assert container['command'] == ENTRYPOINT
    trainer = containers['Trainer_executor']['resources']
    assert (trainer['accelerator']['resourceType'], trainer['accelerator']['resourceCount']) == (
        'nvidia.com/gpu', '1')
    # The Trainer's own requests (defaults), and the GPUs it must then see (custom_config).
    assert (trainer['resourceCpuRequest'], trainer['resourceMemoryRequest']) == ('2', '3Gi')
    trainer_config = tasks['Trainer']['inputs']['parameters']['custom_config']
    assert json.loads(trainer_config['runtimeValue']['constant'])['gpus'] == 1
    for beam_node in ('ImageExampleGen', 'StatisticsGen', 'Transform', 'Evaluator'):
        resources = containers[f'{beam_node}_executor']['resources']
        assert (resources['resourceCpuRequest'], resources['resourceMemoryRequest']) == ('2', '4G')
    assert 'resources' not in containers['Pusher_executor']
    # Each run parameter reaches the executor property it stands for.
    wiring = {(task, key): p['componentInputParameter'] for task, t in tasks.items()
              for key, p in t.get('inputs', {}).get('parameters', {}).items()
              if 'componentInputParameter' in p}
    assert wiring == {('ImageExampleGen', 'input_base'): 'data',
                      ('Trainer', 'epochs'): 'epochs', ('Trainer', 'batch_size'): 'batch_size',
                      ('Trainer', 'learning_rate'): 'learning_rate',
                      ('Evaluator', 'accuracy_threshold'): 'accuracy_threshold'}
    assert spec['schemaVersion'] == '2.1.0'
    assert spec['defaultPipelineRoot'] == 'gs://example-bucket/tfx/mnist'


def test_dockerfile_matches_the_runner_and_the_pins():
    """The image holds the project where compile.py's spec looks for it, installed the way
    `make install` installs it."""
    from image_tfx.kubeflow import runner
    with open(os.path.join(REPO, 'kubeflow', 'Dockerfile'), encoding='utf-8') as f:
        dockerfile = f.read()
    assert re.search(r'^FROM python:3\.11[-.\w]*$', dockerfile, re.M)
    assert re.search(rf'^WORKDIR {re.escape(runner.IMAGE_PROJECT_DIR)}$', dockerfile, re.M)
    assert 'pip install --ignore-requires-python --no-deps -r requirements.txt' in dockerfile
    assert 'pip install --no-deps --no-build-isolation -e .' in dockerfile
    with open(os.path.join(REPO, 'requirements.txt'), encoding='utf-8') as f:
        pins = f.read().split()
    assert 'tensorflow-io==0.37.1' in pins and 'boto3==1.44.8' in pins  # s3:// in the image
    with open(os.path.join(REPO, '.dockerignore'), encoding='utf-8') as f:
        ignored = f.read().split()
    assert '.venv' in ignored and 'outputs' in ignored


def test_compile_rejects_bad_options(tmp_path):
    for bad, message in ((['--gpus', '-1'], '--gpus must be 0 or more, not -1'),
                         (['--cpu', 'two'], "--cpu 'two' is not a Kubernetes quantity"),
                         (['--trainer-memory', 'lots'],
                          "--trainer-memory 'lots' is not a Kubernetes quantity"),
                         (['--pipeline-root', 'outputs'],
                          '--pipeline-root outputs: not object storage; every task runs in '
                          'its own pod, so the root must be gs:// or s3://'),
                         (['--s3-endpoint', 'http://minio:9000'],
                          '--s3-endpoint given, but --pipeline-root gs://b is not s3://'),
                         (['--pipeline-root', 's3://b', '--s3-endpoint', 'minio:9000'],
                          '--s3-endpoint minio:9000: give its scheme, http:// or https://'),
                         (['--pipeline-root', 's3://b', '--s3-secret-keys', 'a'],
                          "--s3-secret-keys 'a': two key names, ACCESS,SECRET")):
        process = subprocess.run([sys.executable, COMPILE, '--image', 'x', '--pipeline-root',
                                  'gs://b', *bad], capture_output=True, text=True, timeout=120)
        assert process.returncode == 2
        assert process.stderr.strip().splitlines()[-1] == f'error: {message}'


SECRET = 'mlpipeline-minio-artifact'  # Kubeflow's MinIO credentials, with its key names
SECRETS = {SECRET: {'accesskey': 'test-access-key', 'secretkey': 'test-secret-key'}}


@pytest.fixture(scope='module')
def kfp_run(tmp_path_factory, digits, s3):
    """Two runs of the compiled spec on 400 digits (an .npz given as the `data` parameter),
    the first as KFP master runs it (log publishing on, executor-logs added to every task),
    the second as KFP 2.3.0 does; an s3:// pipeline root on the S3 server, each task's outputs
    left GCS-shaped (a zero-byte marker for every folder, tests/gcs_shaped), opened by the
    launcher only through the kfp-launcher ConfigMap compile.py wrote. The tasks get the
    endpoint and the credentials only from the spec (the launcher's own environment has
    none). Both runs are recorded in an ML Metadata gRPC service as KFP records them."""
    from image_tfx.kubeflow import runner
    from image_tfx.runner.config import RunConfig
    import s3_server
    import yaml
    from mlmd_server import MlmdServer
    root = tmp_path_factory.mktemp('kfp')
    s3.make_bucket('kfp')
    images, labels = digits
    data = root / 'data' / 'mnist.npz'
    data.parent.mkdir()
    np.savez(data, x_train=images[:400], y_train=labels[:400], x_test=images[4000:4100],
             y_test=labels[4000:4100])
    # The checkout stands in for the image's copy of the project (--project-dir); the int8
    # allowance is widened as in the local e2e test (about 80 eval images).
    cluster = runner.ClusterConfig(image='example.com/image-tfx:test',
                                   pipeline_root='s3://kfp/root', project_dir=REPO,
                                   s3_endpoint=s3.endpoint, s3_secret=SECRET,
                                   s3_secret_keys=('accesskey', 'secretkey'))
    spec_path = runner.compile_pipeline(RunConfig(max_int8_accuracy_drop=0.05), cluster,
                                        str(root / 'pipeline.yaml'))
    spec = kfp_launcher.load_spec(spec_path)
    assert spec['defaultPipelineRoot'] == 's3://kfp/root/mnist'
    with open(runner.launcher_config_path(spec_path), encoding='utf-8') as f:
        launcher_config = yaml.safe_load(f)
    metadata_server = MlmdServer(str(root / 'kfp-mlmd.sqlite'), str(root / 'mlmd.log'))
    # deploy.py sends the compiled root with every run (the backend would use minio:// else).
    launcher = kfp_launcher.Launcher(
        spec, str(root / 'work'), pipeline_root=spec['defaultPipelineRoot'],
        env=s3_server.without_store_variables(kfp_launcher.python_env()),
        platform=kfp_launcher.load_platform_spec(spec_path), secrets=SECRETS,
        launcher_config=launcher_config, backend=kfp_launcher.BACKENDS['master'],
        metadata_store=metadata_server.client(), gcs_markers=True)
    try:
        first = launcher.run('run-1', {'data': str(data), 'epochs': 1,
                                       'accuracy_threshold': 0.3})
        first_inputs = dict(launcher.executor_inputs)
        # Other digits at the same location: KFP's cache key would not see the change.
        np.savez(data, x_train=images[400:800], y_train=labels[400:800],
                 x_test=images[4000:4100], y_test=labels[4000:4100])
        launcher.backend = kfp_launcher.BACKENDS['2.3.0']
        second = launcher.run('run-2', {'data': str(data), 'epochs': 1,
                                        'accuracy_threshold': 1.0})
        yield {'launcher': launcher, 'first': first, 'second': second, 'root': root,
               'data': str(data), 'serving': 's3://kfp/root/serving/mnist', 'spec': spec_path,
               'first_inputs': first_inputs, 'launcher_config': launcher_config,
               'metadata': metadata_server.address}
    finally:
        metadata_server.stop()


def _versions(s3, serving):
    return sorted({key.split('/', 1)[0] for key in s3.objects(serving)})


def test_compiled_spec_executes_and_pushes(kfp_run, s3):
    first = kfp_run['first']
    launcher = kfp_run['launcher']
    assert all(command[:3] == ENTRYPOINT for command in launcher.commands.values())
    examples = first['ImageExampleGen']['examples'][0]
    assert examples['metadata']['source_path'] == kfp_run['data']  # the `data` parameter
    assert examples['uri'].startswith('s3://kfp/root/mnist/mnist/run-1/ImageExampleGen/')
    assert json.loads(examples['metadata']['split_names']) == ['train', 'eval', 'test']
    # The `epochs` parameter reached run_fn: it trained exactly one epoch.
    timing = s3.read(first['Trainer']['model_run'][0]['uri'] + '/fit_timing.json')
    assert json.loads(timing)['epochs'] == 1
    # A first run has no baseline: nothing is pushed yet.
    assert first['BaselineModel']['baseline_model'][0]['metadata']['pushed_version'] == ''
    assert first['BaselineStatistics']['statistics'][0]['metadata']['pushed_version'] == ''
    assert first['Evaluator']['blessing'][0]['metadata']['blessed'] == 1
    assert first['TFLiteValidator']['blessing'][0]['metadata']['blessed'] == 1
    assert first['Pusher']['pushed_model'][0]['metadata']['pushed'] == 1
    versions = _versions(s3, kfp_run['serving'])
    assert len(versions) == 1, versions
    pushed = s3.objects(f'{kfp_run["serving"]}/{versions[0]}')
    assert 'saved_model.pb' in pushed  # TF Serving's layout
    assert sorted(k for k in pushed if k.endswith('.tflite')) == [
        'assets.extra/model_float32.tflite', 'assets.extra/model_int8.tflite']


def test_tasks_get_the_store_only_from_the_spec(kfp_run):
    """compile.py's --s3-endpoint and --s3-secret are what let the tasks write: the endpoint in
    every container's env, the secret's keys as the AWS credentials (platform spec)."""
    from image_tfx.kubeflow import runner
    spec = kfp_launcher.load_spec(kfp_run['spec'])
    platform = kfp_launcher.load_platform_spec(kfp_run['spec'])
    executors = spec['deploymentSpec']['executors']
    assert set(platform) == set(executors)
    for label, executor in executors.items():
        names = {e['name'] for e in executor['container']['env']}
        assert {'S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION'} <= names, label
        (secret_env,) = platform[label]['secretAsEnv']
        assert secret_env['secretName'] == SECRET
        assert {(k['secretKey'], k['envVar']) for k in secret_env['keyToEnv']} == {
            ('accesskey', 'AWS_ACCESS_KEY_ID'), ('secretkey', 'AWS_SECRET_ACCESS_KEY')}
    from image_tfx.kubeflow import check
    import yaml
    with open(kfp_run['spec'], encoding='utf-8') as f:
        documents = list(yaml.safe_load_all(f))
    assert [n for n in check.notes(*documents) if 's3://' in n] == [
        "s3:// root: KFP's launcher opens the bucket itself, from the kfp-launcher ConfigMap of "
        "the runs' namespace: apply the kfp-launcher.yaml compile.py wrote (every KFP version)"]
    # Beam's worker processes register s3:// too (a plugin module they import at start).
    assert '--beam_plugin=tensorflow_io' in json.dumps(executors)
    # Without the secret in the cluster, the first task fails as Kubernetes fails a pod.
    launcher = kfp_launcher.Launcher(spec, str(kfp_run['root'] / 'no-secret'),
                                     pipeline_root=spec['defaultPipelineRoot'],
                                     env=kfp_launcher.python_env(),
                                     platform=platform,
                                     launcher_config=kfp_run['launcher_config'])
    with pytest.raises(kfp_launcher.TaskFailed, match=f'secret "{SECRET}" not found'):
        launcher.run('no-secret')
    assert runner.DEFAULT_S3_SECRET_KEYS == ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY')


def test_second_run_resolves_baseline_and_honours_threshold(kfp_run, s3):
    second = kfp_run['second']
    # The first run's pushed model is the baseline, read from the serving directory...
    (version,) = _versions(s3, kfp_run['serving'])
    assert second['BaselineModel']['baseline_model'][0]['metadata']['pushed_version'] == version
    # The data changed at the same location: read anew and trained on, not served from KFP's
    # cache (everything depends on the data, the schema included).
    assert kfp_run['launcher'].cached.get('run-2', []) == []
    assert (second['ImageExampleGen']['examples'][0]['uri']
            != kfp_run['first']['ImageExampleGen']['examples'][0]['uri'])
    # ...and the accuracy_threshold parameter of 1.0 reached the Evaluator: nothing pushed.
    assert second['Evaluator']['blessing'][0]['metadata']['blessed'] == 0
    assert second['Pusher']['pushed_model'][0]['metadata']['pushed'] == 0
    assert len(_versions(s3, kfp_run['serving'])) == 1


def test_bad_data_location_fails_its_task_naming_the_file(kfp_run, tmp_path):
    previous = kfp_run['launcher']
    launcher = kfp_launcher.Launcher(previous.spec, str(tmp_path / 'work'),
                                     pipeline_root='s3://kfp/bad-data', env=previous.env,
                                     platform=previous.platform, secrets=previous.secrets,
                                     launcher_config=previous.launcher_config)
    missing = str(tmp_path / 'no-such-data')
    with pytest.raises(kfp_launcher.TaskFailed) as failure:
        launcher.run('bad', {'data': missing})
    assert failure.value.task == 'ImageExampleGen' and failure.value.returncode == 1
    assert f'DataError: {missing}: no such file or directory' in str(failure.value)


def test_launcher_refuses_unresolved_placeholders(tmp_path):
    spec = {'root': {'dag': {'tasks': {'A': {'componentRef': {'name': 'A'}}}}},
            'components': {'A': {'executorLabel': 'A_executor'}},
            'deploymentSpec': {'executors': {'A_executor': {'container': {
                'image': 'x', 'command': ['python'],
                'args': ["{{$.inputs.parameters['missing']}}"]}}}}}
    launcher = kfp_launcher.Launcher(spec, str(tmp_path / 'work'), 'minio://bucket/root',
                                     secrets=SECRETS)
    with pytest.raises(ValueError, match='unresolved placeholder'):
        launcher.run('run')


# deploy.py against a recording Kubeflow Pipelines API server.

def deploy_main(capsys, *args):
    from image_tfx.kubeflow import deploy
    code = deploy.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_deploy_uploads_versions_and_runs(golden_compile, capsys, monkeypatch):
    monkeypatch.setenv('KFP_TOKEN', 'secret-token')
    with open(golden_compile, encoding='utf-8') as f:
        package = f.read()
    with KfpApiServer() as server:
        code, out, err = deploy_main(capsys, '--host', server.url, '--package', golden_compile,
                                     '--experiment', 'digits', '--param', 'epochs=8',
                                     '--param', 'data=s3://datasets/fashion-mnist',
                                     '--param', 'accuracy_threshold=0.85')
        assert code == 0, err
        assert server.calls() == [
            'GET /apis/v2beta1/pipelines', 'POST /apis/v2beta1/pipelines/upload',
            'GET /apis/v2beta1/pipelines/p1/versions', 'GET /apis/v2beta1/experiments',
            'POST /apis/v2beta1/experiments', 'POST /apis/v2beta1/runs']
        upload = server.requests[3]
        assert upload['file'] == package and upload['query']['name'] == 'mnist'
        run = server.runs[0]
        assert run['experiment_id'] == 'e1' and server.experiments[0]['display_name'] == 'digits'
        assert run['pipeline_version_reference'] == {'pipeline_id': 'p1',
                                                     'pipeline_version_id': 'v1'}
        assert run['runtime_config']['parameters'] == {
            'epochs': 8, 'data': 's3://datasets/fashion-mnist', 'accuracy_threshold': 0.85}
        # The backend never reads the spec's defaultPipelineRoot: the run carries it.
        assert run['runtime_config']['pipeline_root'] == 'gs://example-bucket/tfx/mnist'
        assert {r['authorization'] for r in server.requests} == {'Bearer secret-token'}
        assert 'secret-token' not in out + err

        # A changed spec becomes a new version of the same pipeline; an unchanged one is reused.
        changed = golden_compile.replace('.yaml', '-changed.yaml')
        with open(changed, 'w', encoding='utf-8') as f:
            f.write(package.replace('golden', 'golden2'))
        assert deploy_main(capsys, '--host', server.url, '--package', changed)[0] == 0
        assert deploy_main(capsys, '--host', server.url, '--package', changed)[0] == 0
        uploads = [r for r in server.requests if r['path'].endswith('/upload_version')]
        assert len(uploads) == 1 and uploads[0]['query']['pipelineid'] == 'p1'
        assert [r['pipeline_version_reference']['pipeline_version_id']
                for r in server.runs] == ['v1', 'v2', 'v2']
        assert server.runs[1]['runtime_config']['parameters'] == {}


def test_deploy_dry_run_sends_nothing(golden_compile, monkeypatch):
    monkeypatch.setenv('KFP_TOKEN', 'secret-token')
    with KfpApiServer() as server:
        process = subprocess.run(
            [sys.executable, DEPLOY, '--host', server.url, '--package', golden_compile,
             '--param', 'batch_size=128', '--dry-run'],
            capture_output=True, text=True, timeout=120)
        assert process.returncode == 0, process.stderr
        assert server.requests == []
    plan = json.loads(process.stdout)
    assert plan['parameters'] == {'batch_size': 128} and plan['pipeline'] == 'mnist'
    assert plan['auth'] == 'bearer token from $KFP_TOKEN'
    assert 'secret-token' not in process.stdout + process.stderr


def test_deploy_fails_clearly(golden_compile, capsys, tmp_path):
    started = time.monotonic()
    code, _, err = deploy_main(capsys, '--host', 'http://127.0.0.1:9', '--package',
                               golden_compile)
    assert code == 1 and time.monotonic() - started < 10
    assert err.startswith('error: cannot reach Kubeflow Pipelines at http://127.0.0.1:9: ')
    with KfpApiServer(refuse={'/pipelines/upload': 403}) as server:
        code, _, err = deploy_main(capsys, '--host', server.url, '--package', golden_compile)
        assert code == 1 and server.runs == []
        assert err.startswith(f'error: Kubeflow Pipelines at {server.url} refused to upload '
                              'the pipeline: HTTP 403')
    with KfpApiServer(refuse={'/healthz': 401}) as server:
        code, _, err = deploy_main(capsys, '--host', server.url, '--package', golden_compile)
        assert code == 1 and 'refused the credentials (HTTP 401)' in err
    with KfpApiServer() as server:
        with pytest.MonkeyPatch.context() as env:
            env.delenv('KFP_TOKEN', raising=False)
            env.setenv('KF_PIPELINES_SA_TOKEN_PATH', str(tmp_path / 'no-token'))
            code, _, err = deploy_main(capsys, '--host', server.url, '--package', golden_compile)
        assert code == 2 and server.requests == []
        assert err == f'error: {tmp_path / "no-token"} ($KF_PIPELINES_SA_TOKEN_PATH): cannot ' \
            'read the token (No such file or directory)\n'
    code, _, err = deploy_main(capsys, '--package', str(tmp_path / 'missing.yaml'))
    assert code == 2 and err == f'error: {tmp_path / "missing.yaml"}: no such file ' \
        '(run kubeflow/compile.py first)\n'
    code, _, err = deploy_main(capsys, '--package', golden_compile, '--param', 'epochs=many')
    assert code == 2 and err == "error: --param epochs='many': expected NUMBER_INTEGER\n"
    code, _, err = deploy_main(capsys, '--package', golden_compile, '--pipeline-root',
                               'minio://mlpipeline/v2/artifacts')
    assert code == 2 and err.startswith('error: pipeline root minio://mlpipeline/v2/artifacts: '
                                        'minio:// is not a TensorFlow filesystem')


def test_entrypoint_gives_inputs_the_type_the_backend_leaves_out(golden_compile):
    """The backend sends input artifacts with name (an MLMD id), URI and metadata only; TFX's
    entrypoint cannot tell their class without a type. kubeflow/entrypoint.py fills it in
    from the task's own inputs spec."""
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from image_tfx.kubeflow import entrypoint
    from image_tfx.pipeline import nodes
    spec = kfp_launcher.load_spec(golden_compile)
    component = spec["components"][nodes.ANOMALIES_GATE]
    container = spec['deploymentSpec']['executors'][component['executorLabel']]['container']
    executor_input = {'inputs': {'artifacts': {'statistics': {'artifacts': [
        {'name': '7', 'uri': '/stats', 'metadata': {'split_names': '["train"]'}}]}}}}
    argv = [arg.replace('{{$}}', json.dumps(executor_input))
            for arg in container['command'] + container['args']]

    def parse(arguments):
        invocation = arguments[arguments.index(entrypoint.INVOCATION_FLAG) + 1]
        message = json_format.Parse(invocation, pipeline_spec_pb2.ExecutorInput())
        return utils.parse_raw_artifact_dict(message.inputs.artifacts, {})

    # What TFX 1.16's entrypoint does with the backend's input as it is: no type, no class
    # (an UnboundLocalError in _retrieve_class_path).
    with pytest.raises(Exception):
        parse(argv)
    (statistics,) = parse(entrypoint.adapt_invocation(argv)[0])['statistics']
    assert statistics.type_name == 'ExampleStatistics' and statistics.uri == '/stats'
    assert statistics.split_names == '["train"]'


def test_without_a_pipeline_root_the_backend_default_fails_the_first_task(tmp_path):
    """What a run without deploy.py's pipeline root would meet: KFP's own minio:// default."""
    spec = {'root': {'dag': {'tasks': {'A': {'componentRef': {'name': 'A'}}}}},
            'components': {'A': {'executorLabel': 'A_executor', 'outputDefinitions': {
                'artifacts': {'out': {'artifactType': {'schemaTitle': 'system.Artifact'}}}}}},
            'deploymentSpec': {'executors': {'A_executor': {'container': {
                'image': 'x', 'command': ['python', '-c', 'import sys; print(sys.argv[1])',
                                          '{{$}}']}}}},
            'defaultPipelineRoot': str(tmp_path / 'never-used')}
    launcher = kfp_launcher.Launcher(spec, str(tmp_path / 'work'),
                                     env=kfp_launcher.python_env(), secrets=SECRETS,
                                     backend=kfp_launcher.BACKENDS['2.3.0'])
    launcher.run('run')
    assert launcher.pipeline_root == kfp_launcher.BACKEND_DEFAULT_PIPELINE_ROOT
    assert 'minio://mlpipeline/v2/artifacts/pipeline/run/A/out' in ' '.join(
        launcher.commands['A'])


def test_check_passes_the_compiled_spec_and_names_what_the_backend_refuses(golden_compile,
                                                                           tmp_path):
    from image_tfx.kubeflow import check
    spec = kfp_launcher.load_spec(golden_compile)
    assert check.problems(spec) == []
    assert check.notes(spec) == ['CPU/memory request fields: needs a KFP 2.3 or newer server']
    # An s3:// root compiled without --s3-endpoint/--s3-secret: the pods need credentials.
    s3_spec = dict(spec, defaultPipelineRoot='s3://bucket/tfx/mnist')
    assert check.notes(s3_spec)[-1].startswith('s3:// root, but the spec gives the tasks no S3')
    # What TFX's own KubeflowV2DagRunner output would hold, and what our fixes removed.
    spec['deploymentSpec']['executors']['resolver_executor'] = {'resolver': {}}
    spec['components']['resolver'] = {'executorLabel': 'resolver_executor'}
    spec['root']['dag']['tasks']['resolver'] = {'componentRef': {'name': 'resolver'}}
    spec['root']['dag']['tasks']['ImageExampleGen']['cachingOptions'] = {'enableCache': True}
    gate = spec['deploymentSpec']['executors']['AnomaliesGate_executor']['container']
    gate['command'] = ['python', '-m', 'tfx.orchestration.kubeflow.v2.container.'
                       'kubeflow_v2_run_executor']
    trainer = spec['deploymentSpec']['executors']['Trainer_executor']['container']
    flag = trainer['args'].index(check.OUTPUTS_SPEC_FLAG)
    trainer['args'][flag:flag + 2] = []  # compiled before entrypoint.py learnt the outputs
    spec['defaultPipelineRoot'] = 'minio://mlpipeline/v2/artifacts'
    found = check.problems(spec)
    assert len(found) == 6, found
    assert found[0].startswith('pipeline root minio://mlpipeline/v2/artifacts: minio://')
    assert any(line.startswith("task AnomaliesGate: runs TFX's entrypoint directly")
               for line in found)
    assert any(line.startswith('task ImageExampleGen: cached by KFP') for line in found)
    assert any(line.startswith('task Trainer: no --json_serialized_outputs_spec_args')
               and line.endswith('(KFP 2.5.0 and newer)') for line in found)
    assert any(line.startswith("task AnomaliesGate: TFX's entrypoint parses every output")
               for line in found)
    assert any(line.startswith('task resolver: a resolver executor') and 'dag.go' in line
               for line in found)
    import yaml
    bad = tmp_path / 'bad.yaml'
    bad.write_text(yaml.safe_dump(spec))
    result = subprocess.run([sys.executable, os.path.join(REPO, 'kubeflow', 'check.py'),
                             str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and len(result.stdout.splitlines()) == 6
    # On gs:// every task that does not clear TensorFlow's folder markers is named.
    spec['defaultPipelineRoot'] = 'gs://bucket/tfx'
    assert [line for line in check.problems(spec) if 'kubeflow/pipelines#13476' in line] == [
        line for line in check.problems(spec) if line.startswith('task AnomaliesGate: on gs://')]


def test_entrypoint_drops_the_outputs_the_backend_adds(golden_compile):
    """With log publishing on (KFP 2.5 and newer, the default manifests) the driver adds an
    `executor-logs` output of type system.Artifact to every task; TFX 1.16's entrypoint cannot
    import that class and the task dies before its executor runs. entrypoint.py keeps only the
    outputs the component declares, and unwraps input metadata KFP's ML Metadata wrapped."""
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from image_tfx.kubeflow import entrypoint
    from image_tfx.pipeline import nodes
    spec = kfp_launcher.load_spec(golden_compile)
    component = spec['components'][nodes.ANOMALIES_GATE]
    container = spec['deploymentSpec']['executors'][component['executorLabel']]['container']
    (declared,) = component['outputDefinitions']['artifacts']
    executor_input = {
        'inputs': {'artifacts': {'statistics': {'artifacts': [
            {'name': '7', 'uri': '/stats', 'type': {'instanceSchema': ''},
             'metadata': {'split_names': '["train"]', 'spans': {'list': [1.0, 2.0]},
                          'spec': {'struct': {'shape': [28, 28]}}}}]}}},
        'outputs': {'artifacts': {
            declared: {'artifacts': [{'name': declared, 'uri': '/out',
                                      'type': component['outputDefinitions']['artifacts'][
                                          declared]['artifactType']}]},
            'executor-logs': {'artifacts': [{'name': 'executor-logs', 'uri': '/logs-0',
                                             'type': {'schemaTitle': 'system.Artifact'}}]}},
            'outputFile': '/tmp/unused.json'}}
    argv = [arg.replace('{{$}}', json.dumps(executor_input))
            for arg in container['command'] + container['args']]

    def parsed(arguments):
        invocation = arguments[arguments.index(entrypoint.INVOCATION_FLAG) + 1]
        message = json_format.Parse(invocation, pipeline_spec_pb2.ExecutorInput())
        return (utils.parse_raw_artifact_dict(message.inputs.artifacts, {}),
                utils.parse_raw_artifact_dict(message.outputs.artifacts, {}))

    # TFX 1.16's entrypoint on what the backend sends: the added output's class cannot be
    # imported (and the untyped input cannot be parsed either).
    bad = json.loads(json.dumps(executor_input))
    bad['inputs']['artifacts']['statistics']['artifacts'][0]['type'] = {
        'instanceSchema': 'title: tfx.ExampleStatistics\ntype: object\n'}
    bad_argv = [arg.replace('{{$}}', json.dumps(bad))
                for arg in container['command'] + container['args']]
    with pytest.raises(ImportError, match='system.Artifact'):
        parsed(bad_argv)
    adapted, _ = entrypoint.adapt_invocation(argv)
    assert entrypoint.OUTPUTS_SPEC_FLAG not in ' '.join(adapted)  # TFX never sees our flag
    inputs, outputs = parsed(adapted)
    assert list(outputs) == [declared]
    (statistics,) = inputs['statistics']
    assert statistics.type_name == 'ExampleStatistics'
    assert statistics.get_json_value_custom_property('spans') == [1.0, 2.0]
    assert statistics.get_json_value_custom_property('spec') == {'shape': [28, 28]}


def test_launcher_download_trips_over_folder_markers_the_entrypoint_clears(s3, tmp_path):
    """kubeflow/pipelines#13476: the launcher copies an input object by object, and the
    zero-byte `folder/` objects TensorFlow's GCS filesystem leaves become files where folders
    must go. storage.remove_directory_markers (run by entrypoint.py after each task) removes
    every marker of a folder that holds something; an empty folder keeps its own."""
    import s3_server
    s3.make_bucket('markers')
    for key in ('a/model/', 'a/model/saved_model.pb', 'a/model/variables/',
                'a/model/variables/v.index', 'a/model/empty/', 'a/model_run/',
                'a/model_run/log'):
        s3.client.put_object(Bucket='markers', Key=key, Body=b'' if key.endswith('/') else b'x')
    config = {'data': {'providers': yaml_dump({'s3': {'default': {
        'endpoint': s3.endpoint.split('://')[1], 'disableSSL': True, 'region': 'us-east-1',
        'forcePathStyle': True, 'credentials': {'fromEnv': False, 'secretRef': {
            'secretName': SECRET, 'accessKeyKey': 'accesskey', 'secretKeyKey': 'secretkey'}}}}})}}
    secrets = {SECRET: {'accesskey': s3_server.ACCESS_KEY, 'secretkey': s3_server.SECRET_KEY}}
    for version in ('2.3.0', 'master'):
        bucket = kfp_launcher.Bucket('s3://markers/a', config, secrets,
                                     kfp_launcher.BACKENDS[version])
        with pytest.raises(OSError):
            bucket.download('s3://markers/a/model', str(tmp_path / version / 'model'),
                            kfp_launcher.BACKENDS[version].download_under_prefix_only)
    code = ('import sys; from image_tfx.data import object_store; '
            'from image_tfx.components import storage; '
            'object_store.prepare(sys.argv[1]); '
            'storage.remove_directory_markers(sys.argv[1]); object_store.exit_now(0)')
    for uri in ('s3://markers/a/model', 's3://markers/a/model_run'):
        process = subprocess.run([sys.executable, '-c', code, uri], capture_output=True,
                                 text=True, timeout=120, env=s3.env(kfp_launcher.python_env()))
        assert process.returncode == 0, process.stderr[-2000:]
    assert sorted(k for k in s3.objects('s3://markers/a', markers=True) if k.endswith('/')) == [
        'model/empty/']
    local = tmp_path / 'after' / 'model'
    bucket.download('s3://markers/a/model', str(local), True)
    assert (local / 'saved_model.pb').read_bytes() == b'x'
    assert (local / 'variables' / 'v.index').is_file() and (local / 'empty').is_file()


def yaml_dump(value):
    import yaml
    return yaml.safe_dump(value)


def test_launcher_opens_the_bucket_only_through_the_generated_configmap(s3, tmp_path):
    """compile.py writes the kfp-launcher ConfigMap an s3:// root needs; without it the
    launcher would use AWS's endpoint (config/s3.go), and without the secret it names it
    cannot open the bucket."""
    from image_tfx.kubeflow import runner
    from image_tfx.runner.config import RunConfig
    import s3_server
    import yaml
    cluster = runner.ClusterConfig(image='x', pipeline_root='s3://configmap/root',
                                   s3_endpoint=s3.endpoint, s3_secret=SECRET,
                                   s3_secret_keys=('accesskey', 'secretkey'))
    configmap = runner.launcher_config(RunConfig(), cluster)
    assert configmap['metadata']['name'] == 'kfp-launcher'
    assert set(configmap['data']) == {'providers'}  # no namespace-wide pipeline root
    default = yaml.safe_load(configmap['data']['providers'])['s3']['default']
    assert default == {'endpoint': s3.endpoint.split('://')[1], 'disableSSL': True,
                       'region': 'us-east-1', 'forcePathStyle': True, 'credentials': {
                           'fromEnv': False, 'secretRef': {'secretName': SECRET,
                                                           'accessKeyKey': 'accesskey',
                                                           'secretKeyKey': 'secretkey'}}}
    gs = runner.ClusterConfig(image='x', pipeline_root='gs://b/root')
    assert runner.launcher_config(RunConfig(), gs) is None
    # compile.py writes it beside the spec (and none for gs://).
    output = compile_cli(tmp_path, '--image', 'x', '--pipeline-root', 's3://configmap/root',
                         '--s3-endpoint', s3.endpoint, '--s3-secret', SECRET,
                         '--s3-secret-keys', 'accesskey,secretkey')
    with open(runner.launcher_config_path(output), encoding='utf-8') as f:
        assert yaml.safe_load(f) == configmap
    # Compiled for gs:// into the same folder: the file compile.py wrote goes, a user's stays.
    compile_cli(tmp_path, '--image', 'x', '--pipeline-root', 'gs://b/root')
    assert not os.path.exists(runner.launcher_config_path(output))
    with open(runner.launcher_config_path(output), 'w', encoding='utf-8') as f:
        f.write('apiVersion: v1\nkind: ConfigMap  # merged by hand\n')
    compile_cli(tmp_path, '--image', 'x', '--pipeline-root', 'gs://b/root')
    assert os.path.exists(runner.launcher_config_path(output))

    s3.make_bucket('configmap')
    s3.client.put_object(Bucket='configmap', Key='root/x/file', Body=b'x')
    secrets = {SECRET: {'accesskey': s3_server.ACCESS_KEY, 'secretkey': s3_server.SECRET_KEY}}
    master = kfp_launcher.BACKENDS['master']
    kfp_launcher.Bucket('s3://configmap/root', configmap, secrets, master).download(
        's3://configmap/root/x', str(tmp_path / 'ok'), True)
    assert (tmp_path / 'ok' / 'file').read_bytes() == b'x'
    with pytest.raises(ValueError, match='has no s3 provider'):
        kfp_launcher.Bucket('s3://configmap/root', None, secrets, master)
    with pytest.raises(ValueError, match='failed to get secret'):
        kfp_launcher.Bucket('s3://configmap/root', configmap, {}, master)


def kfp_inspect(address, *args, env=None):
    return subprocess.run([sys.executable, '-m', 'image_tfx.records.inspect',
                           '--kfp-metadata', address,
                           *args], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env=env)


def test_inspect_reads_the_kubeflow_runs_from_kfp_metadata(kfp_run, s3, tmp_path):
    """What the emulated backend recorded in ML Metadata (served over gRPC by the stand-in of
    KFP's metadata service, tests/mlmd_server.py) answers `inspect` as a local run's does:
    runs, a run's tasks and artifacts, lineage from the pushed model back to the data, the
    report. The artifacts themselves are read from the bucket."""
    address = kfp_run['metadata']
    env = s3.env(kfp_launcher.python_env())

    def answer(*args):
        result = kfp_inspect(address, '--json', *args, env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout)

    listed = answer('runs')
    assert [r['run_id'] for r in listed] == ['run-2', 'run-1']
    second, first = listed
    assert first['state'] == second['state'] == 'complete'
    (version,) = _versions(s3, kfp_run['serving'])
    assert (first['blessed'], first['pushed_version']) == (True, version)
    assert (second['blessed'], second['pushed_version']) == (False, None)
    run = answer('run', 'run-1')
    from image_tfx.pipeline import pipeline as pipeline_def
    assert {c['component'] for c in run['components']} == set(pipeline_def.COMPONENTS)
    examples = next(c for c in run['components'] if c['component'] == 'ImageExampleGen')
    (artifact,) = examples['outputs']['examples']
    assert artifact['type'] == 'Examples'
    assert artifact['properties']['split_names'] == '["train", "eval", "test"]'
    assert 'executor-logs' in examples['outputs']  # the launcher's own output, as recorded
    # Lineage: the pushed int8 model back through the Pusher and the Trainer to the data.
    pushed = f'{kfp_run["serving"]}/{version}/assets.extra/model_int8.tflite'
    tree = answer('lineage', pushed)
    made = []
    node = tree
    while 'made_by' in node:
        made.append(node['made_by']['component'])
        assert node['made_by']['run_id'] == 'run-1'
        inputs = {i['key']: i for i in node['made_by']['inputs']}
        node = inputs.get('model') or inputs.get('examples') or {}
    # Transform read ExampleGen's examples, whose own producer is shown once, above.
    assert made == ['Pusher', 'Trainer', 'Transform'], made
    assert node['uri'] == kfp_run['first']['ImageExampleGen']['examples'][0]['uri']
    text = kfp_inspect(address, 'lineage', pushed, env=env).stdout
    assert 'made by Pusher' in text and 'made by ImageExampleGen' in text
    report = tmp_path / 'report.html'
    result = kfp_inspect(address, 'report', 'run-1', '--out', str(report), env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    html = report.read_text()
    from image_tfx.records.report import SECTIONS
    assert all(f'id="{section}"' in html for section in SECTIONS)
    assert 'blessed' in html


def test_inspect_kfp_metadata_errors_are_one_line(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        closed = s.getsockname()[1]
    for address, message in ((f'127.0.0.1:{closed}', f'ML Metadata at 127.0.0.1:{closed} did '
                              'not answer'),
                             ('nohost.invalid:8080', 'ML Metadata at nohost.invalid:8080 did not '
                              'answer'),
                             ('no-port', '--kfp-metadata no-port: expected HOST:PORT')):
        started = time.monotonic()
        result = kfp_inspect(address, 'runs')
        assert result.returncode == 2 and time.monotonic() - started < 60
        assert result.stderr.count('\n') == 1 and result.stderr.startswith(f'error: {message}'), \
            result.stderr
