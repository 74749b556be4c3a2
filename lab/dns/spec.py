"""A drill's ``dns:`` section: the names its connections may use and where they lead.

    topology:
      sites: [a, b]
      dns:
        ttl: 30
        names:
          sip.geolab.test:
            targets: [{site: a, priority: 10}, {site: b, priority: 20}]

Each name gets, for every transport the drill uses, an SRV record per target
(``_sip._udp.NAME`` …, the site's port for that transport, its priority and weight) and,
unless ``naptr: false``, a NAPTR record leading there (RFC 3263); each site gets an A
record per transport, ``TRANSPORT.SITE.DOMAIN``, at the address an endpoint reaches it by
(its fault proxy)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# a DNS name: labels of letters, digits and hyphens, at most 253 characters in all
DnsName = Annotated[
    str,
    StringConstraints(
        pattern=r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$",
        max_length=253,
        to_lower=True,
    ),
]
TTL = Annotated[int, Field(ge=0, le=86400)]  # s; 0: not kept at all


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DnsTarget(Strict):
    site: str
    priority: int = Field(default=10, ge=0, le=65535)
    weight: int = Field(default=1, ge=0, le=65535)


class DnsEntry(Strict):
    targets: list[DnsTarget] = Field(min_length=1, max_length=16)
    naptr: bool = True  # NAPTR records lead to the SRV names (false: SRV only)
    ttl: TTL | None = None  # the section's when not given


class DnsSpec(Strict):
    ttl: TTL = 30
    domain: DnsName = "sites.geolab.test"  # sites' own names: TRANSPORT.SITE.DOMAIN
    names: dict[DnsName, DnsEntry] = Field(min_length=1, max_length=32)

    def sites(self) -> set[str]:
        return {t.site for name in self.names.values() for t in name.targets}
