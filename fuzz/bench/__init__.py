"""Benchmarks (``ptfuzz bench``): throughput, checker cost, time to bug."""
