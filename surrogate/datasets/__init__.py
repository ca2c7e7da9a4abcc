"""Datasets of simulated flows: generation (`generate`), shards and manifest (`store`), loading as arrays with
the train/validation/test split (`data`), summaries and plots (`summary`), and the light defaults the CLI
shows (`settings`)."""
