"""The reliability suite: ``python -m reliability`` (``make reliability``)."""
