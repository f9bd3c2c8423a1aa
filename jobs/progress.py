"""Job progress (0-100) as a Prefect progress artifact: shown in the UI, read by the API."""

from __future__ import annotations

from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact


class Progress:
    """The progress bar of the running job."""

    def __init__(self, artifact_id: UUID) -> None:
        self.artifact_id = artifact_id

    @classmethod
    def start(cls, description: str) -> Progress:
        artifact_id = create_progress_artifact(0.0, description=description)
        assert isinstance(artifact_id, UUID), "called from async code; use it in sync flows"
        return cls(artifact_id)

    def update(self, percent: float, description: str | None = None) -> None:
        update_progress_artifact(
            self.artifact_id, min(100.0, max(0.0, percent)), description=description
        )
