"""dragopt.sim."""
