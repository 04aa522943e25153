"""sre-streams: event-time SLOs, error budgets and burn-rate alerts on Kafka."""

__version__ = "0.1.0"
