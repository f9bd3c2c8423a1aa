"""The HTTP API: jobs from any language, with scoped API keys.

``create_app(settings)`` builds the FastAPI application (OpenAPI schema at ``/openapi.json``,
docs page at ``/docs``); ``serve(settings)`` runs it with uvicorn on ``JOBS_API_HOST`` and
``JOBS_API_PORT`` until SIGTERM or SIGINT. Every request but ``GET /health`` needs an
``Authorization: Bearer <key>`` header with a key of the right scope (:mod:`jobs.apikeys`).
The API is a thin layer over :class:`jobs.Client`: submits are validated, keyed and laned
exactly as the Python client's, and refused with the same messages.
"""

from jobs.http.app import create_app
from jobs.http.server import serve

__all__ = ["create_app", "serve"]
