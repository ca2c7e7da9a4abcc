"""dragopt.surrogate."""
