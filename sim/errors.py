"""Errors of the simulation, each with a message a user can act on."""


class SimulationError(RuntimeError):
    """A simulation that cannot run or did not converge (the message names the step and the cause)."""


class SetupError(ValueError):
    """Bad simulation input: Reynolds number, resolution, or a body that does not fit the domain."""
