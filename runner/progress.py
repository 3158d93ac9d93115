"""One line per component as it starts and finishes (and per training epoch), instead of TFX's
INFO logs.

The scheduler logs 'Component %s is running.' / 'Component %s is finished.' around each node
(LocalDagRunner's wording) and TFX's launcher logs 'A cached execution %d is used.' when it
reuses outputs; this handler turns those records into progress lines and keeps the rest of
TFX's logging out of sight (run_local.py --verbose shows it all instead).
"""

import logging
import sys
import threading
import time
from typing import Dict, List, Optional, TextIO

from image_tfx.model import params
from image_tfx.runner.scheduler import FAILED as _FAILED, FINISHED as _FINISHED
from image_tfx.runner.scheduler import RUNNING as _RUNNING

_CACHED = 'A cached execution %d is used.'
PROGRESS_MESSAGE = params.PROGRESS_MESSAGE
# A component that has printed nothing for this long gets a line with its elapsed time (Beam
# components run for minutes on large data and say nothing in between).
HEARTBEAT_SECONDS = 15.0


class _Running:
    """A component between its start and end lines."""

    def __init__(self, name: str):
        self.name, self.started, self.cached = name, time.monotonic(), False


class ProgressHandler(logging.Handler):
    """Prints progress lines for the components of one run; remembers which failed and why.

    Components may run at the same time (runner/scheduler.py), each on a thread of its own:
    a record is the component's whose thread logged it (the launcher's and the executor's
    records), else the one running component's.

    LocalDagRunner does not raise when a component fails before its executor runs (an input
    that cannot be resolved, say): the launcher logs '[<node>] ...' at ERROR, marks the
    execution failed and the runner goes on. Such a component is shown FAILED here and listed
    in `errors`, so the runner can exit non-zero.
    """

    def __init__(self, stream: TextIO = sys.stdout, heartbeat: float = HEARTBEAT_SECONDS):
        super().__init__(level=logging.INFO)
        self._stream = stream
        self._heartbeat = heartbeat
        self._printed = 0.0
        # One lock for the printed lines and the state the heartbeat thread reads.
        self._lock = threading.RLock()
        self._ticker: Optional[threading.Thread] = None
        self._stopped = threading.Event()
        self._running: Dict[int, _Running] = {}  # by the thread that runs the component
        self.errors: Dict[str, str] = {}
        self.raised: List[str] = []  # components whose launch raised, in order
        # Set by run_local's Ctrl-C handler. Ctrl-C lands in the scheduler's wait; should it
        # be swallowed anyway (it was, inside StatisticsGen's Beam pipeline, when components
        # ran in the main thread), the next component boundary raises it again.
        self.interrupt_requested = False

    @property
    def running(self) -> List[str]:
        """The components running now, in the order they started."""
        with self._lock:
            return [node.name for node in self._running.values()]

    def _print(self, text: str) -> None:
        with self._lock:
            print(text, file=self._stream, flush=True)
            self._printed = time.monotonic()

    def _tick(self) -> None:
        """While components run, a line each for them every heartbeat the run is silent."""
        while not self._stopped.wait(min(1.0, self._heartbeat / 4)):
            with self._lock:
                if self._running and time.monotonic() - self._printed >= self._heartbeat:
                    for node in list(self._running.values()):
                        self._print(f'          {node.name} running, '
                                    f'{time.monotonic() - node.started:.0f} s')

    def close(self) -> None:
        """Stops the heartbeat thread (the run is over)."""
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        super().close()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self._emit(record)

    def _node(self, record: logging.LogRecord) -> Optional[_Running]:
        """The running component a record belongs to: its thread's, else the only one."""
        node = self._running.get(record.thread)
        if node is None and len(self._running) == 1:
            node = next(iter(self._running.values()))
        return node

    def _end_line(self, node: _Running, state: str) -> None:
        self._print(f'  {state:<7} {node.name:<26} {time.monotonic() - node.started:7.1f}s')

    def _emit(self, record: logging.LogRecord) -> None:
        if self.interrupt_requested and record.msg in (_RUNNING, _FINISHED):
            raise KeyboardInterrupt
        if record.msg == _RUNNING and record.args:
            self._running[record.thread] = _Running(record.args[0])
            self._print(f'  start   {record.args[0]}')
            if self._ticker is None and self._heartbeat > 0:
                self._ticker = threading.Thread(target=self._tick, daemon=True)
                self._ticker.start()
            return
        if record.msg in (_FINISHED, _FAILED) and record.args:
            thread = next((t for t, node in self._running.items()
                           if node.name == record.args[0]), None)
            if thread is not None:
                node = self._running.pop(thread)
                if record.msg == _FAILED:
                    self.raised.append(node.name)
                self._end_line(node, 'FAILED' if record.msg == _FAILED or node.name in
                               self.errors else 'cached' if node.cached else 'done')
            return
        if record.levelno >= logging.ERROR:
            message = record.getMessage()
            for node in self._running.values():
                if message.startswith(f'[{node.name}]'):
                    self.errors.setdefault(node.name, message.splitlines()[0])
            return
        node = self._node(record)
        if node is None:
            return
        if record.msg == _CACHED:
            node.cached = True
        elif record.msg == PROGRESS_MESSAGE and record.args:
            self._print(f'          {record.args[0]}')

    def failed(self, state: str = 'FAILED') -> Optional[str]:
        """Marks the components that were running as failed (or `state`); returns their names
        ('A' or 'A and B'), None when none was."""
        with self._lock:
            if not self._running:
                return None
            nodes = list(self._running.values())
            self._running.clear()
            for node in nodes:
                self._end_line(node, state)
            return ' and '.join(node.name for node in nodes)
