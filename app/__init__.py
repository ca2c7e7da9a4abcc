"""dragopt.app."""
