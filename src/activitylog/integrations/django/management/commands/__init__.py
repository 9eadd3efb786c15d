"""``manage.py activitylog_verify`` and ``manage.py activitylog_export``."""
