"""Serve the page for a pushed version on localhost.

    python -m image_tfx.web [VERSION_DIR] [--port 8000]

VERSION_DIR is a pushed version (serving/<pipeline>/<version>) or a serving folder
(serving/<pipeline>, the newest version is taken); default: outputs/serving/<pipeline>, the
one pipeline there (else mnist).
"""

import argparse
import os
import sys

DEFAULT_ROOT = 'outputs'


def _version_dir(path: str) -> str:
    from image_tfx.components import pushed_layout
    if os.path.isfile(os.path.join(path, 'saved_model.pb')):
        return path
    newest = pushed_layout.versions(path) if os.path.isdir(path) else []
    return os.path.join(path, newest[0]) if newest else path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m image_tfx.web', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('version_dir', nargs='?', default=None,
                        help='default: outputs/serving/<the one pipeline there, else mnist>')
    parser.add_argument('--port', type=int, default=8000, help='0 picks a free port')
    parser.add_argument('--verbose', action='store_true',
                        help="show TensorFlow's own start-up lines and library warnings")
    args = parser.parse_args(argv)
    if args.version_dir is None:
        from image_tfx.records.inspect import only_pipeline
        args.version_dir = os.path.join(DEFAULT_ROOT, 'serving',
                                        only_pipeline(DEFAULT_ROOT, 'serving'))
    from image_tfx.tools import cli
    cli.quiet(args.verbose, pipe=False)
    from image_tfx.components import pushed_layout
    from image_tfx.components.tfjs_exporter import server
    version_dir = _version_dir(args.version_dir)
    model = pushed_layout.extra(version_dir, os.path.join(pushed_layout.TFJS_DIR, 'model.json'))
    try:
        if not os.path.isfile(model):
            raise server.SetupError(f'{model}: missing; is {args.version_dir} a pushed version '
                                    'or serving folder? (run the pipeline first)')
        server.check_setup()
        web = server.Server(server.for_version(version_dir), port=args.port)
    except (server.SetupError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'Serving version {os.path.basename(version_dir.rstrip("/"))} at {web.url} '
          '(Ctrl-C to stop)', flush=True)
    try:
        web.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
