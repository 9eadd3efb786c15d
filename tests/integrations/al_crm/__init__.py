"""A tiny CRM app for the Django and DRF integration tests."""
