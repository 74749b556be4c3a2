"""Differential testing of the simulation against real sites: seeded random drills
(:mod:`lab.fidelity.generate`) run both ways (:mod:`lab.fidelity.compare`)."""
