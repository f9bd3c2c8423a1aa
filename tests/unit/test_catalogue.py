"""The job-type catalogue drives prefect.yaml, the flows and the worker's preload list."""

from __future__ import annotations

import difflib
import importlib
import pkgutil

from prefect.flows import Flow

import flows
from deployments import prefect_yaml
from jobs.registry import BATCH_ENTRYPOINT, JOB_TYPES


def test_prefect_yaml_is_the_one_the_catalogue_generates() -> None:
    committed = prefect_yaml.PATH.read_text()
    generated = prefect_yaml.render()

    difference = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "prefect.yaml (committed)",
            "prefect.yaml (from jobs/registry.py)",
        )
    )
    assert not difference, f"run `python -m jobs deployments`:\n{difference}"


def test_each_job_types_flow_takes_its_name_and_time_limit_from_the_catalogue() -> None:
    for job_type in JOB_TYPES.values():
        module, _, attr = job_type.entrypoint.partition(":")
        flow = getattr(importlib.import_module(job_type.module), attr)

        assert isinstance(flow, Flow), job_type.entrypoint
        assert (flow.name, flow.timeout_seconds) == (job_type.flow, job_type.time_limit)
        assert module == f"{job_type.module.replace('.', '/')}.py"


def test_every_flow_of_the_flows_package_is_a_job_type_or_the_batch_flow() -> None:
    modules = [f"flows.{info.name}" for info in pkgutil.iter_modules(flows.__path__)]

    found = {
        f"{module.replace('.', '/')}.py:{attr}"
        for module in modules
        for attr, value in vars(importlib.import_module(module)).items()
        if isinstance(value, Flow)
    }

    assert found == {BATCH_ENTRYPOINT, *(job_type.entrypoint for job_type in JOB_TYPES.values())}


def test_names_are_unique() -> None:
    for field in ("flow", "deployment", "entrypoint"):
        values = [getattr(job_type, field) for job_type in JOB_TYPES.values()]
        assert len(values) == len(set(values)), field


def test_every_job_types_parameter_model_is_exported_by_name() -> None:
    import jobs

    for job_type in JOB_TYPES.values():
        name = job_type.params.__name__
        assert name in jobs.__all__ and getattr(jobs, name) is job_type.params
