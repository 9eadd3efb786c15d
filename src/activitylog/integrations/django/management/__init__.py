"""Management commands of the Activity Log app."""
