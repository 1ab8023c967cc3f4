"""Speed and memory benchmarks of modal-ibal, outside the test suite (``python -m benchmarks.X``)."""
