"""Clients of the Prefect API, with its basic auth when the server asks for one."""

from __future__ import annotations

from prefect.client.orchestration import PrefectClient
from prefect.settings import PREFECT_API_AUTH_STRING
from pydantic import SecretStr


def prefect_client(api_url: str, auth: SecretStr | None = None) -> PrefectClient:
    """A client of the Prefect API at ``api_url``, sending ``auth`` (``user:password``, the
    ``JOBS_SERVER_AUTH`` setting; else Prefect's ``PREFECT_API_AUTH_STRING``) as basic auth.

    ``PrefectClient(url)`` alone sends none: only Prefect's ``get_client()`` reads the setting.
    """
    secret = auth.get_secret_value() if auth is not None else PREFECT_API_AUTH_STRING.value()
    return PrefectClient(api_url, auth_string=secret or None)
