"""`make demo`: courtflow and the naive reference design side by side on one sandbox."""
