"""The warm worker: runs our work pool's flow runs in processes forked from a warm parent.

Prefect and every flow module are imported once, in a forkserver that starts no threads; each
flow run is a fork of it that executes Prefect's own engine (``prefect.engine``), exactly as the
stock process worker's subprocess would, so states, task runs, logs and artifacts look the same.
"""
