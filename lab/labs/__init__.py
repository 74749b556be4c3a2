"""The lab: its interface (real and simulated alike), the real lab, and the factory that
picks one."""
