"""The CourtListener HTTP client."""
