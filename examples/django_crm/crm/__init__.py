"""A small CRM recording its Activity Log with activitylog's Django integration."""
