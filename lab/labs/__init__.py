"""The lab's interface, which the real lab (:mod:`lab.real`) and the simulated one
(:mod:`lab.sim`) both implement."""
