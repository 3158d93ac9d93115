"""The local runner: run_local's command line and options, the run configuration, progress lines."""
