"""nudge."""
