"""Helpers on the machine itself: loopback addresses, process groups, state files."""
