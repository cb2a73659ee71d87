"""One router per resource: serving, models, data, the loop, alerts, health and metrics."""
