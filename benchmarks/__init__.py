"""Speed and quality benchmarks; run with ``python -m benchmarks.NAME``. Not collected by pytest."""
