"""chatd's benchmark: chatd against minimal baselines, measured in the same run.

``python -m bench`` starts a real Redis, chatd's processes, the baselines (``baselines.py``)
and load generators (``loadgen.py``) as separate processes, measures the six figures of
docs/performance.md, writes ``bench/results/latest.json`` and prints a table.
"""
