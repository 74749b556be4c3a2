"""The lab's DNS: the records a drill's ``dns:`` section writes (:mod:`lab.dns.spec`), the
answers they give under the DNS faults (:mod:`lab.dns.zone`), and a server that gives them
on a 127.x address (:mod:`lab.dns.server`); the simulated lab serves the same zone."""
