"""Benchmarks. Run them all with ``.venv/bin/python -m benchmarks``, or some: ``... -m benchmarks beat``.

Each module ``benchmarks/bench_<name>.py`` has ``main() -> None`` that prints its figures, each as a
ratio against a baseline measured in the same run (this machine is shared and noisy).
"""
