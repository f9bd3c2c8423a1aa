"""Scheduled maintenance: app database cleanup, cache files, reminders, renewals, job history."""
