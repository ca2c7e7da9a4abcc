"""dragopt.optim."""
