"""The fault suite (``make faults``): see :mod:`faults.suite`."""
