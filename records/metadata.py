"""Reading what a run recorded in ML Metadata: its executions and their artifacts by node."""

import dataclasses
import os
import socket
import urllib.parse
from typing import Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

PIPELINE_RUN_CONTEXT = 'pipeline_run'
NODE_CONTEXT = 'node'

STATE_NAMES = {
    metadata_store_pb2.Execution.COMPLETE: 'complete',
    metadata_store_pb2.Execution.CACHED: 'cached',
    metadata_store_pb2.Execution.FAILED: 'failed',
    metadata_store_pb2.Execution.RUNNING: 'running',
    metadata_store_pb2.Execution.NEW: 'new',
    metadata_store_pb2.Execution.CANCELED: 'canceled',
    metadata_store_pb2.Execution.UNKNOWN: 'unknown',
}


# Custom properties of a run's context naming the process that runs it (run_local.py), so that
# a run whose process is gone (killed, machine restarted) is not shown as running forever.
RUNNER_HOST = 'runner_host'
RUNNER_PID = 'runner_pid'
RUNNER_STARTED = 'runner_process_started'
# Set when the runner is done with a run: 'finished' (complete or failed), or 'interrupted'.
RUNNER_STATE = 'runner_state'
RUNNER_ERROR = 'runner_error'  # why a run failed, as run_local.py printed it
_UNFINISHED = (metadata_store_pb2.Execution.RUNNING, metadata_store_pb2.Execution.NEW)


# Node ids of runs recorded before the project was renamed from mnist_tfx (ML Metadata keeps the
# ids a run was recorded with): read as today's.
LEGACY_NODE_IDS = {'MnistExampleGen': 'ImageExampleGen'}


def current_node_id(node_id: str) -> str:
    return LEGACY_NODE_IDS.get(node_id, node_id)


class MetadataError(RuntimeError):
    """ML Metadata cannot be read, or does not hold what was asked for."""


def is_mysql(target: str) -> bool:
    return target.startswith('mysql://')


def redact(target: str) -> str:
    """The target as it may be printed: a MySQL password becomes ***."""
    if not is_mysql(target):
        return target
    parsed = urllib.parse.urlsplit(target)
    if parsed.password is None:
        return target
    netloc = f'{parsed.username}:***@{parsed.hostname}' + (f':{parsed.port}' if parsed.port else '')
    return urllib.parse.urlunsplit(parsed._replace(netloc=netloc))


# MySQL's own clients read a password from this variable; so does connection_config.
PASSWORD_VARIABLE = 'MYSQL_PWD'
# The option file MySQL's clients read: its [client] section's `password`.
OPTION_FILE = os.path.join('~', '.my.cnf')
_password_from_file: List[str] = []  # set by use_password_file; kept out of the environment


def use_password_file(path: str) -> None:
    """--metadata-password-file: the first line of `path` is this process's MySQL password
    (never the command line's, which `ps` and shell history show, nor the environment's,
    which child processes inherit)."""
    try:
        with open(path, encoding='utf-8') as f:
            password = f.readline().rstrip('\r\n')
    except OSError as e:
        raise MetadataError(f'{path}: cannot read the password file ({e.strerror or e})') from None
    _password_from_file[:] = [password]


def _option_file_password() -> Optional[str]:
    """The [client] password of ~/.my.cnf, None without one."""
    import configparser
    options = configparser.ConfigParser(allow_no_value=True, interpolation=None,
                                        strict=False, inline_comment_prefixes=('#', ';'))
    try:
        options.read(os.path.expanduser(OPTION_FILE), encoding='utf-8')
    except configparser.Error:
        return None
    value = options.get('client', 'password', fallback=None)
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
        value = value[1:-1]  # quoted, as MySQL's option files allow
    return value


def _password(parsed) -> str:
    """In MySQL's clients' order: the URI's, --metadata-password-file's, the option file's,
    then $MYSQL_PWD."""
    if parsed.password is not None:
        return urllib.parse.unquote(parsed.password)
    if _password_from_file:
        return _password_from_file[0]
    from_option_file = _option_file_password()
    if from_option_file is not None:
        return from_option_file
    return os.environ.get(PASSWORD_VARIABLE, '')


def connection_config(target: str, create: bool = False) -> metadata_store_pb2.ConnectionConfig:
    """ConnectionConfig for a SQLite file path or a `mysql://user[:pass]@host:port/db` URI.

    A SQLite file is opened read-only and must exist unless `create`; a MySQL database is
    created on first use, as TFX does on Kubeflow. A MySQL password need not be in the URI: it
    is taken from $MYSQL_PWD (--metadata-password-file sets it) or ~/.my.cnf, as MySQL's own
    clients take it.
    """
    config = metadata_store_pb2.ConnectionConfig()
    if is_mysql(target):
        parsed = urllib.parse.urlsplit(target)
        database = parsed.path.lstrip('/')
        if not parsed.hostname or not database:
            raise MetadataError(f'{redact(target)}: expected mysql://user:password@host:port/database')
        config.mysql.host = parsed.hostname
        config.mysql.port = parsed.port or 3306
        config.mysql.database = database
        config.mysql.user = urllib.parse.unquote(parsed.username or '')
        config.mysql.password = _password(parsed)
        return config
    if not create and not os.path.isfile(target):
        raise MetadataError(f'{target}: no ML Metadata database there')
    config.sqlite.filename_uri = target
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE if create
        else metadata_store_pb2.SqliteMetadataSourceConfig.READONLY)
    return config


def open_store(target: str, create: bool = False) -> mlmd.MetadataStore:
    """Opens ML Metadata: a SQLite file path or a mysql:// URI (see connection_config)."""
    config = connection_config(target, create)
    try:
        return mlmd.MetadataStore(config)
    except Exception as e:  # MLMD raises its own status errors
        if is_mysql(target):
            raise MetadataError(f'{redact(target)}: cannot use the MySQL server '
                                f'{config.mysql.host}:{config.mysql.port} ({e})') from None
        raise MetadataError(f'{target}: not an ML Metadata database ({e})') from None


@dataclasses.dataclass
class NodeRun:
    """One node's execution in a pipeline run, with its artifacts by input/output key."""
    node_id: str
    execution: metadata_store_pb2.Execution
    inputs: Dict[str, List[metadata_store_pb2.Artifact]]
    outputs: Dict[str, List[metadata_store_pb2.Artifact]]

    @property
    def state(self) -> str:
        return STATE_NAMES.get(self.execution.last_known_state, 'unknown')

    @property
    def seconds(self) -> float:
        return (self.execution.last_update_time_since_epoch
                - self.execution.create_time_since_epoch) / 1000.0


def first_output(nodes: Dict[str, 'NodeRun'], node_id: str,
                 key: str) -> Optional[metadata_store_pb2.Artifact]:
    """The first `key` output of a node in a run, or None when it did not run or make one."""
    node = nodes.get(node_id)
    artifacts = node.outputs.get(key, []) if node else []
    return artifacts[0] if artifacts else None


def run_ids(store: mlmd.MetadataStore, pipeline_name: str) -> List[str]:
    """Run ids of a pipeline, oldest first."""
    prefix = f'{pipeline_name}.'
    node_contexts = {c.id for c in store.get_contexts_by_type(NODE_CONTEXT)
                     if c.name.startswith(prefix)}
    runs = []
    for context in store.get_contexts_by_type(PIPELINE_RUN_CONTEXT):
        executions = store.get_executions_by_context(context.id)
        if not executions:
            continue
        attributed = store.get_contexts_by_execution(executions[0].id)
        if any(c.id in node_contexts for c in attributed):
            runs.append(context)
    runs.sort(key=lambda c: (c.create_time_since_epoch, c.id))
    return [c.name for c in runs]


def _artifacts_by_key(store, events, event_types) -> Dict[str, List[metadata_store_pb2.Artifact]]:
    wanted = [e for e in events if e.type in event_types]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in wanted])}
    result: Dict[str, List[metadata_store_pb2.Artifact]] = {}
    for event in wanted:
        key = event.path.steps[0].key if event.path.steps else ''
        result.setdefault(key, []).append(artifacts[event.artifact_id])
    return result


def node_runs(store: mlmd.MetadataStore, pipeline_name: str,
              run_id: Optional[str] = None) -> Dict[str, NodeRun]:
    """Every node's execution in a run (default: the latest run), by node id."""
    if run_id is None:
        ids = run_ids(store, pipeline_name)
        if not ids:
            raise MetadataError(f'no runs of pipeline {pipeline_name!r} in ML Metadata')
        run_id = ids[-1]
    run_context = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
    if run_context is None:
        raise MetadataError(f'no pipeline run {run_id!r} in ML Metadata')
    result = {}
    prefix = f'{pipeline_name}.'
    for execution in store.get_executions_by_context(run_context.id):
        node = next((c.name[len(prefix):] for c in store.get_contexts_by_execution(execution.id)
                     if c.type == NODE_CONTEXT or c.name.startswith(prefix)), None)
        if node is None:
            continue
        node = current_node_id(node)
        previous = result.get(node)
        if previous is None or previous.execution.id < execution.id:
            result[node] = NodeRun(node, execution,
                                   execution_artifacts(store, execution.id, inputs=True),
                                   execution_artifacts(store, execution.id, inputs=False))
    return result


def node_of(store: mlmd.MetadataStore, execution_id: int, pipeline_name: str) -> str:
    """The node id an execution belongs to ('' when it has no node context)."""
    prefix = f'{pipeline_name}.'
    for context in store.get_contexts_by_execution(execution_id):
        if context.name.startswith(prefix):
            return current_node_id(context.name[len(prefix):])
    return ''


def run_of(store: mlmd.MetadataStore, execution_id: int) -> str:
    """The pipeline run id an execution belongs to ('' when none)."""
    run_type = store.get_context_type(PIPELINE_RUN_CONTEXT)
    for context in store.get_contexts_by_execution(execution_id):
        if context.type_id == run_type.id:
            return context.name
    return ''


def artifact_type_names(store: mlmd.MetadataStore) -> Dict[int, str]:
    return {t.id: t.name for t in store.get_artifact_types()}


def get_artifact(store: mlmd.MetadataStore, artifact_id: int) -> metadata_store_pb2.Artifact:
    found = store.get_artifacts_by_id([artifact_id])
    if not found:
        raise MetadataError(f'no artifact with id {artifact_id} in ML Metadata')
    return found[0]


def artifact_for_path(store: mlmd.MetadataStore, path: str) -> metadata_store_pb2.Artifact:
    """The artifact that holds a file or folder: the longest artifact URI (or pushed
    destination) that the path is in."""
    from image_tfx.data import object_store
    path = object_store.absolute(path)
    best, best_len = None, -1
    for artifact in store.get_artifacts():
        places = [artifact.uri]
        destination = artifact.custom_properties.get('pushed_destination')
        if destination is not None and destination.string_value:
            places.append(destination.string_value)
        for place in places:
            place = place.rstrip('/')
            if place and (path == place or path.startswith(place + '/')) and len(place) > best_len:
                # A pushed folder beats the artifact URI it was copied from.
                best, best_len = artifact, len(place)
    if best is None:
        raise MetadataError(f'{path}: no artifact in ML Metadata holds this path')
    return best


def value_of(value: metadata_store_pb2.Value):
    """A MLMD property value as plain Python."""
    kind = value.WhichOneof('value')
    if kind is None:
        return None
    if kind == 'struct_value':
        from google.protobuf import json_format
        return json_format.MessageToDict(value.struct_value)
    if kind == 'proto_value':
        return str(value.proto_value)
    return getattr(value, kind)


def properties_of(item) -> Dict[str, object]:
    """Properties and custom properties of an artifact or execution, as plain Python."""
    result = {k: value_of(v) for k, v in item.properties.items()}
    result.update({k: value_of(v) for k, v in item.custom_properties.items()})
    return dict(sorted(result.items()))


def producer(store: mlmd.MetadataStore, artifact_id: int) -> Optional[metadata_store_pb2.Execution]:
    """The execution that made an artifact (the first one; cached runs re-publish it)."""
    ids = sorted(e.execution_id for e in store.get_events_by_artifact_ids([artifact_id])
                 if e.type in (metadata_store_pb2.Event.OUTPUT,
                               metadata_store_pb2.Event.DECLARED_OUTPUT))
    return store.get_executions_by_id(ids[:1])[0] if ids else None


def consumers(store: mlmd.MetadataStore, artifact_id: int) -> List[metadata_store_pb2.Execution]:
    """Executions that read an artifact, oldest first."""
    ids = sorted({e.execution_id for e in store.get_events_by_artifact_ids([artifact_id])
                  if e.type in (metadata_store_pb2.Event.INPUT,
                                metadata_store_pb2.Event.DECLARED_INPUT)})
    return store.get_executions_by_id(ids) if ids else []


def execution_artifacts(store: mlmd.MetadataStore, execution_id: int,
                        inputs: bool) -> Dict[str, List[metadata_store_pb2.Artifact]]:
    """An execution's input (or output) artifacts by key."""
    events = store.get_events_by_execution_ids([execution_id])
    kinds = ((metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT) if inputs
             else (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT))
    return _artifacts_by_key(store, events, kinds)


def _proc_stat(pid: int) -> List[str]:
    """Fields of /proc/<pid>/stat after the command name (Linux), [] where unknown."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return []


def _process_started(pid: int) -> str:
    """When a process started (clock ticks since boot), '' where unknown; with the pid it
    tells a live runner from an unrelated process that reused its pid."""
    fields = _proc_stat(pid)
    return fields[19] if len(fields) > 19 else ''


def register_run(store: mlmd.MetadataStore, run_id: str) -> None:
    """Creates a run's context before TFX does, recording which process runs it."""
    type_id = store.put_context_type(metadata_store_pb2.ContextType(name=PIPELINE_RUN_CONTEXT))
    context = metadata_store_pb2.Context(type_id=type_id, name=run_id)
    context.custom_properties[RUNNER_HOST].string_value = socket.gethostname()
    context.custom_properties[RUNNER_PID].int_value = os.getpid()
    context.custom_properties[RUNNER_STARTED].string_value = _process_started(os.getpid())
    store.put_contexts([context])


def finish_run(store: mlmd.MetadataStore, run_id: str, interrupted: bool = False,
               error: str = '') -> None:
    """Records that the runner is done with a run, and why it failed if it did; an
    interrupted run's unfinished executions are marked canceled."""
    context = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
    if context is None:
        return
    context.custom_properties[RUNNER_STATE].string_value = (
        'interrupted' if interrupted else 'finished')
    if error:
        context.custom_properties[RUNNER_ERROR].string_value = error
    store.put_contexts([context])
    if not interrupted:
        return
    unfinished = [e for e in store.get_executions_by_context(context.id)
                  if e.last_known_state in _UNFINISHED]
    for execution in unfinished:
        execution.last_known_state = metadata_store_pb2.Execution.CANCELED
    if unfinished:
        store.put_executions(unfinished)


def _runner_alive(context: metadata_store_pb2.Context) -> bool:
    """False only when the run's process is known to be gone: same host, and no process with
    its pid (and start time) exists."""
    props = context.custom_properties
    if RUNNER_PID not in props or props[RUNNER_HOST].string_value != socket.gethostname():
        return True
    pid = props[RUNNER_PID].int_value
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _proc_stat(pid)
    if fields and fields[0] in ('Z', 'X'):  # killed, not yet reaped
        return False
    started = props[RUNNER_STARTED].string_value
    return not started or _process_started(pid) == started


def run_state(store: mlmd.MetadataStore, run_id: str, nodes: Dict[str, NodeRun]) -> str:
    """complete, failed, running, or interrupted (Ctrl-C, or its process is gone).

    A run that run_local.py started is running until the runner says it is done (its context's
    runner_state), or its process is gone; other runs are judged by their executions alone.
    """
    states = {n.state for n in nodes.values()}
    if 'failed' in states:
        return 'failed'
    context = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
    props = context.custom_properties if context is not None else {}
    runner_state = props[RUNNER_STATE].string_value if RUNNER_STATE in props else ''
    if 'canceled' in states or runner_state == 'interrupted':
        return 'interrupted'
    if RUNNER_PID in props and not runner_state:
        return 'running' if _runner_alive(context) else 'interrupted'
    return 'running' if states & {'running', 'new'} else 'complete'


def run_error(store: mlmd.MetadataStore, run_id: str) -> str:
    """Why a run failed, as its runner recorded it ('' when it did not fail or did not say)."""
    context = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
    if context is None or RUNNER_ERROR not in context.custom_properties:
        return ''
    return context.custom_properties[RUNNER_ERROR].string_value
