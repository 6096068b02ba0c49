"""One router per resource: studies, trials, meta (devices, spaces, health), dashboard pages."""
