"""Clients of the Prefect API, with its basic auth when the server asks for one."""

from __future__ import annotations

from typing import Any

from prefect.client.orchestration import PrefectClient, SyncPrefectClient
from prefect.settings import PREFECT_API_AUTH_STRING
from pydantic import SecretStr


def prefect_client(api_url: str, auth: SecretStr | None = None) -> PrefectClient:
    """A client of the Prefect API at ``api_url``, sending ``auth`` (``user:password``, the
    ``JOBS_SERVER_AUTH`` setting; else Prefect's ``PREFECT_API_AUTH_STRING``) as basic auth.

    ``PrefectClient(url)`` alone sends none: only Prefect's ``get_client()`` reads the setting.
    """
    return PrefectClient(api_url, auth_string=_auth_string(auth))


def sync_prefect_client(
    api_url: str, auth: SecretStr | None = None, httpx_settings: dict[str, Any] | None = None
) -> SyncPrefectClient:
    """:func:`prefect_client`'s sync twin (for sync callers such as metrics collection);
    ``httpx_settings`` go to its ``httpx.Client`` (e.g. event hooks)."""
    return SyncPrefectClient(api_url, auth_string=_auth_string(auth), httpx_settings=httpx_settings)


def _auth_string(auth: SecretStr | None) -> str | None:
    secret = auth.get_secret_value() if auth is not None else PREFECT_API_AUTH_STRING.value()
    return secret or None
