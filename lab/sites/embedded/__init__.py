"""The embedded site: a pure-Python registrar and stateless proxy on the SIP core, run as
its own process so that kill and hang are real signals."""
