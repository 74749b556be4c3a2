"""Simulation: the same endpoint code and sites on a simulated network in virtual time."""
