"""A lab's own certificates: a CA made at the lab's start (``trustme``), a certificate per
site signed by it, and the bad ones a drill asks a site to present. Nothing is checked in;
the folder goes with the lab."""

from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import trustme

# what a site presents: a certificate the endpoint should accept, or one it must refuse
Certificate = Literal["valid", "wrong_ca", "expired", "wrong_name"]
CERTIFICATES: tuple[Certificate, ...] = ("valid", "wrong_ca", "expired", "wrong_name")


@dataclass(frozen=True, slots=True)
class SiteCertificate:
    cert_file: Path  # the site's certificate, then its CA's
    key_file: Path
    kind: str  # one of CERTIFICATES


class LabCertificates:
    """The lab's CA (``ca_file`` is what an endpoint under test is told to trust) and its
    sites' certificates, in ``folder`` (only its owner reads it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="geolab lab CA")
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._stranger: trustme.CA | None = None  # a CA no endpoint of the lab trusts

    def for_site(
        self, name: str, domain: str, addresses: tuple[str, ...], kind: str = "valid"
    ) -> SiteCertificate:
        """A certificate for site ``name``: for its domain and addresses when ``valid``;
        signed by another CA (``wrong_ca``), out of date (``expired``), or for another
        name (``wrong_name``) when a drill wants it refused."""
        identities: tuple[str, ...] = (domain, *addresses)
        issuer = self.ca
        not_before = not_after = None
        if kind == "wrong_ca":
            if self._stranger is None:
                self._stranger = trustme.CA(organization_name="a CA nobody trusts")
            issuer = self._stranger
        elif kind == "expired":
            now = datetime.datetime.now(datetime.UTC)
            not_before = now - datetime.timedelta(days=30)
            not_after = now - datetime.timedelta(days=1)
        elif kind == "wrong_name":
            identities = (f"not-{domain}",)
        elif kind != "valid":
            raise ValueError(f"a site's certificate is one of {', '.join(CERTIFICATES)}")
        leaf = issuer.issue_cert(*identities, not_before=not_before, not_after=not_after)
        folder = self.folder / name
        folder.mkdir(mode=0o700, exist_ok=True)
        cert_file, key_file = folder / "cert.pem", folder / "key.pem"
        key_file.touch(mode=0o600)
        key_file.write_bytes(leaf.private_key_pem.bytes())
        cert_file.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
        return SiteCertificate(cert_file, key_file, kind)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
