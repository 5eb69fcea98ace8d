"""Self-contained, offline HTML inspection reports."""
