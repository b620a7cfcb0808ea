"""Search-defined scopes over CourtListener's search/ (v4) endpoint (courtflow.search.walk)."""
