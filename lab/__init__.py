"""geolab's lab: sites, faults, drivers, the runner and the simulation."""

import endpoint  # noqa: F401  # decides, before lab.sim loads, whether compiled modules may
