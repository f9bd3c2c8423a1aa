"""Outgoing HTTP: signed webhook deliveries and generic API calls, with SSRF protection,
per-host rate limits, retries that honour Retry-After, and a record of every attempt."""
