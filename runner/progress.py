"""One line per component as it starts and finishes (and per training epoch), instead of TFX's
INFO logs.

LocalDagRunner logs 'Component %s is running.' / 'Component %s is finished.' around each node
and the launcher logs 'A cached execution %d is used.' when it reuses outputs; this handler
turns those records into progress lines and keeps the rest of TFX's logging out of sight
(run_local.py --verbose shows it all instead).
"""

import logging
import sys
import threading
import time
from typing import Dict, Optional, TextIO

from image_tfx.model import params

_RUNNING = 'Component %s is running.'
_FINISHED = 'Component %s is finished.'
_CACHED = 'A cached execution %d is used.'
PROGRESS_MESSAGE = params.PROGRESS_MESSAGE
# A component that has printed nothing for this long gets a line with its elapsed time (Beam
# components run for minutes on large data and say nothing in between).
HEARTBEAT_SECONDS = 15.0


class ProgressHandler(logging.Handler):
    """Prints progress lines for the components of one run; remembers which failed and why.

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
        self.current: Optional[str] = None
        self._started = 0.0
        self._cached = False
        self.errors: Dict[str, str] = {}
        # Set by run_local's Ctrl-C handler. The KeyboardInterrupt that Ctrl-C raises can be
        # swallowed by the code it lands in (seen in StatisticsGen's Beam pipeline: the run
        # went on to the end); with this set, the next component boundary raises it again.
        self.interrupt_requested = False

    def _print(self, text: str) -> None:
        with self._lock:
            print(text, file=self._stream, flush=True)
            self._printed = time.monotonic()

    def _tick(self) -> None:
        """While a component runs, a line each heartbeat it has been silent for."""
        while not self._stopped.wait(min(1.0, self._heartbeat / 4)):
            with self._lock:
                if (self.current is not None
                        and time.monotonic() - self._printed >= self._heartbeat):
                    self._print(f'          {self.current} running, '
                                f'{time.monotonic() - self._started:.0f} s')

    def close(self) -> None:
        """Stops the heartbeat thread (the run is over)."""
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        super().close()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self._emit(record)

    def _emit(self, record: logging.LogRecord) -> None:
        if self.interrupt_requested and record.msg in (_RUNNING, _FINISHED):
            raise KeyboardInterrupt
        if record.msg == _RUNNING and record.args:
            self.current, self._started, self._cached = record.args[0], time.monotonic(), False
            self._print(f'  start   {self.current}')
            if self._ticker is None and self._heartbeat > 0:
                self._ticker = threading.Thread(target=self._tick, daemon=True)
                self._ticker.start()
        elif record.msg == _CACHED and self.current:
            self._cached = True
        elif record.msg == PROGRESS_MESSAGE and record.args and self.current:
            self._print(f'          {record.args[0]}')
        elif (record.levelno >= logging.ERROR and self.current
              and record.getMessage().startswith(f'[{self.current}]')):
            self.errors.setdefault(self.current, record.getMessage().splitlines()[0])
        elif record.msg == _FINISHED and record.args and record.args[0] == self.current:
            state = ('FAILED' if self.current in self.errors
                     else 'cached' if self._cached else 'done')
            self._print(f'  {state:<7} {self.current:<26} {time.monotonic() - self._started:7.1f}s')
            self.current = None

    def failed(self, state: str = 'FAILED') -> Optional[str]:
        """Marks the component that was running as failed (or `state`); returns its name."""
        with self._lock:
            if self.current is None:
                return None
            elapsed = time.monotonic() - self._started
            self._print(f'  {state:<7} {self.current:<26} {elapsed:7.1f}s')
            name, self.current = self.current, None
            return name
