"""Data jobs: sample data, table exports, the weekly report, daily rollups, batch updates.

Modules imported by flows/data.py at load time (params, tables, dates) stay free of pandas,
pyarrow and matplotlib: the warm worker's forkserver preloads the flow modules and must start
no threads; the heavy libraries are imported by the tasks, in the flow-run process.
"""
