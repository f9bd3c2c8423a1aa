"""The work pool, its prioritized work queues and their limits, as code."""
