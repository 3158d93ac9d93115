"""Runs a compiled pipeline as TFX's LocalDagRunner does, with independent nodes at once.

LocalDagRunner (TFX 1.16) launches the nodes one after another in topological order, although
its own comment plans threads for independent ones. This runner keeps everything else of it:
the same `Launcher` per node (driver, TFX's cache decision, executor, publisher), a connection
of its own to ML Metadata per node, the same records. What changes is only when a node starts:
as soon as every node upstream of it has finished, on one of up to `workers` threads. The
Evaluator, the TFLite export and check, and the TF.js export and check then overlap.

Nodes named `alone` run with nothing beside them: the TFLite check times the model on this
machine's cores.

Failures as LocalDagRunner has them: a node whose executor raises is recorded failed by its
launcher and the run raises that exception once the nodes already running have finished (no
new node starts); a node that fails before its executor (an input that cannot be resolved) is
logged by the launcher and the run goes on, as LocalDagRunner's does.
"""

import threading
from typing import Callable, Dict, Iterable, List, Optional, Set

from absl import logging

# The records LocalDagRunner logs around each node; the local runner's progress lines and
# anyone reading TFX's logs under --verbose see the same wording.
RUNNING = 'Component %s is running.'
FINISHED = 'Component %s is finished.'
# Logged when a node's launch raised (LocalDagRunner logs nothing of its own then: the
# exception ends its loop).
FAILED = 'Component %s failed.'


def node_order(pipeline_ir) -> List[str]:
    """The node ids of a compiled pipeline, in its (topological) order."""
    return [node.pipeline_node.node_info.id for node in pipeline_ir.nodes]


class ConcurrentDagRunner:
    """LocalDagRunner's launch of each node, independent nodes on up to `workers` threads."""

    def __init__(self, workers: int = 2, alone: Iterable[str] = (),
                 launch: Optional[Callable[[object, object, object], None]] = None):
        """`alone`: node ids that run with no other node beside them (a node that times
        something on this machine)."""
        self.workers = max(1, workers)
        self.alone = frozenset(alone)
        self._launch = launch or _launch_node

    def run_with_ir(self, pipeline_ir) -> None:
        """Runs every node of a compiled pipeline whose run id is already substituted (the
        local runner names the run itself; LocalDagRunner would substitute it here)."""
        from tfx.orchestration.local import runner_utils
        from tfx.utils import telemetry_utils
        deployment_config = runner_utils.extract_local_deployment_config(pipeline_ir)
        nodes = {node.pipeline_node.node_info.id: node.pipeline_node
                 for node in pipeline_ir.nodes}
        order = node_order(pipeline_ir)
        waiting = {node_id for node_id in order
                   if not nodes[node_id].execution_options.HasField('skip')}
        upstream = {node_id: set(nodes[node_id].upstream_nodes) & waiting for node_id in waiting}
        done: Set[str] = set()
        running: Dict[str, threading.Thread] = {}
        failures: List[BaseException] = []
        changed = threading.Condition()

        def work(node_id: str) -> None:
            try:
                with telemetry_utils.scoped_labels({telemetry_utils.LABEL_TFX_RUNNER: 'local'}):
                    logging.info(RUNNING, node_id)
                    self._launch(pipeline_ir, deployment_config, nodes[node_id])
                    logging.info(FINISHED, node_id)
            except BaseException as e:  # handed to the main thread, which raises it
                with changed:  # the first failure logged is the one raised
                    logging.info(FAILED, node_id)
                    failures.append(e)
            finally:
                with changed:
                    done.add(node_id)
                    del running[node_id]
                    changed.notify_all()

        with changed:
            while True:
                if not failures:
                    for node_id in order:
                        if (node_id in waiting and upstream[node_id] <= done
                                and len(running) < self.workers
                                and not self.alone & set(running)
                                and not (node_id in self.alone and running)):
                            waiting.discard(node_id)
                            # Daemon threads: after Ctrl-C the process ends without them.
                            thread = threading.Thread(target=work, args=(node_id,),
                                                      name=f'node-{node_id}', daemon=True)
                            running[node_id] = thread
                            thread.start()
                if not running:
                    break
                # A timeout, so that Ctrl-C reaches this (the main) thread while it waits.
                changed.wait(timeout=0.5)
        if failures:
            raise failures[0]


def _launch_node(pipeline_ir, deployment_config, pipeline_node) -> None:
    """What LocalDagRunner does for one node: a Launcher with its own ML Metadata connection."""
    from tfx.orchestration import metadata
    from tfx.orchestration.local import runner_utils
    from tfx.orchestration.portable import launcher
    node_id = pipeline_node.node_info.id
    connection_config = getattr(
        deployment_config.metadata_connection_config,
        deployment_config.metadata_connection_config.WhichOneof('connection_config'))
    launcher.Launcher(
        pipeline_node=pipeline_node,
        mlmd_connection=metadata.Metadata(connection_config),
        pipeline_info=pipeline_ir.pipeline_info,
        pipeline_runtime_spec=pipeline_ir.runtime_spec,
        executor_spec=runner_utils.extract_executor_spec(deployment_config, node_id),
        custom_driver_spec=runner_utils.extract_custom_driver_spec(deployment_config, node_id),
    ).launch()
