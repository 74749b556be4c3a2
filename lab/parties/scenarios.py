"""SIPp scenarios for the lab's remote parties, rendered with the options a drill needs.

SIPp's ``next`` cannot jump backwards, so the callee accepts up to three re-INVITEs
(hold, resume, hold) in a row before the BYE, unrolled; each is answered as RFC 3264 asks
(a new SDP version, recvonly to a hold). A 2xx to an INVITE that offers a session timer
takes it as offered (RFC 4028 §9: the Session-Expires echoed, the refresher the caller
named); SIPp leaves the line out when there is none.
"""

from __future__ import annotations

_CALLEE_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="geolab callee">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]gl[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
@RING@  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]gl[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      [last_Session-Expires:]
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

@SDP@
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
"""

_REINVITE = """  <recv request="INVITE" optional="true" next="re@N@">
    <action>
      <ereg regexp="a=sendonly" search_in="body" check_it="false" assign_to="held@N@"/>
    </action>
  </recv>
  <recv request="BYE" next="bye"/>
  <label id="re@N@"/>
  <nop test="held@N@" next="hold@N@"/>
@ANSWER_RESUME@  <nop next="done@N@"/>
  <label id="hold@N@"/>
@ANSWER_HOLD@  <label id="done@N@"/>
  <recv request="ACK" crlf="true"/>
"""

_REANSWER = """  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      [last_Session-Expires:]
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

@SDP@
    ]]>
  </send>
"""


def _reanswer(n: int, *, held: bool) -> str:
    """The answer to re-INVITE ``n`` (RFC 3264 §8): a new SDP version each time, recvonly
    to an offer that holds (sendonly), sendrecv (no attribute) otherwise."""
    sdp = _SDP.replace("o=sipp 1 1 ", f"o=sipp 1 {n + 2} ")
    if held:
        sdp += "\n      a=recvonly"
    return _REANSWER.replace("@SDP@", sdp)


_CALLEE_TAIL = """  <recv request="BYE"/>
  <label id="bye"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="500"/>
</scenario>
"""

_SDP = """      v=0
      o=sipp 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000"""


def callee(*, ring_ms: int = 0) -> str:
    """Answer an INVITE (after ``ring_ms``), accept re-INVITEs, answer the BYE."""
    body = _CALLEE_HEAD + "".join(
        _REINVITE.replace("@N@", str(n))
        .replace("@ANSWER_RESUME@", _reanswer(n, held=False))
        .replace("@ANSWER_HOLD@", _reanswer(n, held=True))
        for n in range(3)
    )
    body += _CALLEE_TAIL
    ring = f'  <pause milliseconds="{ring_ms}"/>\n' if ring_ms > 0 else ""
    return body.replace("@SDP@", _SDP).replace("@RING@", ring)


_CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="geolab caller">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]gl[call_number]
      To: <sip:[service]@@TO_HOST@>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
@EXTRA@      Content-Type: application/sdp
      Content-Length: [len]

@SDP@
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]gl[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="@HOLD_MS@"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]gl[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def caller(*, hold_ms: int = 500, auto_answer: bool = False, to_host: str | None = None) -> str:
    """Call ``[service]`` through the target site; hang up after ``hold_ms``. The To names
    the callee's AOR (``[service]@to_host``, the site's domain) where given, as a caller
    dialling a user's address does; else the site's address."""
    extra = "      Call-Info: <sip:[remote_ip]>;answer-after=0\n" if auto_answer else ""
    return (
        _CALLER.replace("@EXTRA@", extra).replace("@SDP@", _SDP).replace("@HOLD_MS@", str(hold_ms))
        .replace("@TO_HOST@", to_host or "[remote_ip]:[remote_port]")
    )
