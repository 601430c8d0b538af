"""CORE load harness: `python -m bench` (see `bench.cli`)."""
