// geolab's reference page for JsSIP: the page contract (docs/endpoint-protocol.md, "A page
// of your own") on JsSIP 3.13, one JsSIP UA per connection. It only translates: JsSIP's
// events become the protocol's, the contract's calls become JsSIP's. No re-registration,
// retry, failover or keep-alive of its own; JsSIP's `registrationExpiring` is never
// listened to (that would hand refreshing to the page).
import JsSIP from "jssip";
import { connection, connectionStatus, lifecycle, record, report, session, sessionStatus } from "./contract.js";

// JsSIP's causes in the protocol's words: a timed-out request is a 408 (a dead site)
function codeOf(response, cause) {
  if (response && response.status_code) return response.status_code;
  return cause === JsSIP.C.causes.REQUEST_TIMEOUT ? 408 : null;
}

function startUa(c) {
  const cfg = c.cfg;
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(cfg.ws_url)],
    uri: `sip:${cfg.user}@${cfg.domain}`,
    password: cfg.password || undefined,
    authorization_user: cfg.auth_user || cfg.user,
    register: true,
    // JsSIP refreshes 5 s before expiry (expires <= 64): Expires = reg_interval + 5 s
    register_expires: Math.max(10, Math.ceil(cfg.reg_interval) + 5),
    // JsSIP's only retry: its transport's reconnection, at retry_interval, no backoff
    connection_recovery_min_interval: Math.max(1, Math.ceil(cfg.retry_interval)),
    connection_recovery_max_interval: Math.max(1, Math.ceil(cfg.retry_interval)),
    session_timers: false,
    user_agent: "geolab-jssip",
  });
  c.ua = ua;
  ua.on("registered", (e) => connectionStatus(c, "Available", e.response.reason_phrase || "OK", e.response.status_code));
  ua.on("registrationFailed", (e) => connectionStatus(c, "Unavailable", e.cause || "failed", codeOf(e.response, e.cause)));
  ua.on("unregistered", (e) => {
    if (c.stopping) return;
    connectionStatus(c, "Unavailable", (e && e.cause) || "unregistered", codeOf(e && e.response, e && e.cause));
  });
  ua.on("disconnected", (e) => {
    if (c.stopping) return;
    if (c.status === "Registering") connectionStatus(c, "Unavailable", "transport error: disconnected", null);
  });
  ua.on("newRTCSession", (e) => {
    if (e.originator !== "remote") return;
    const s = record("j", cfg.id, "inbound", e.request.from.uri.toString());
    track(e.session, s);
    sessionStatus(s, "Ringing", "incoming", null);
  });
  ua.start();
}

function track(session, s) {
  const direction = s.direction;
  s.session = session;
  session.on("progress", (e) => {
    if (direction === "outbound") sessionStatus(s, "Ringing", (e.response && e.response.reason_phrase) || "", (e.response && e.response.status_code) || null);
  });
  session.on("confirmed", () => sessionStatus(s, "Established", "answered", 200));
  session.on("hold", () => sessionStatus(s, "OnHold", "hold"));
  session.on("unhold", () => sessionStatus(s, "Established", "resumed"));
  session.on("ended", (e) => {
    const reason = e.originator === "local" ? "LocalHangup" : "RemoteHangup";
    sessionStatus(s, "Disconnected", reason, null);
  });
  session.on("failed", (e) => {
    let reason;
    if (e.originator === "local") reason = "LocalHangup";
    else if (e.message && e.message.status_code) reason = `SipError ${e.message.status_code} ${e.message.reason_phrase}`;
    else if (direction === "inbound") reason = "RemoteCancel";
    else reason = `SipError ${codeOf(null, e.cause) || 0} ${e.cause}`;
    sessionStatus(s, "Disconnected", reason, (e.message && e.message.status_code) || codeOf(null, e.cause));
  });
}

const media = { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } };

function stopUa(c) {
  c.stopping = true;
  if (c.ua) c.ua.stop(); // unregisters (Expires: 0) and closes its WebSocket
  c.ua = null;
}

window.geolab = {
  library: `JsSIP ${JsSIP.version}`,
  ...lifecycle(startUa, stopUa),
  dial(id, destination) {
    const c = connection(id);
    if (!c.ua) throw new Error(`connection ${id} is disabled`);
    const uri = destination.startsWith("sip:") ? destination : `sip:${destination}@${c.cfg.domain}`;
    const s = record("j", id, "outbound", uri);
    sessionStatus(s, "Dialing", "dial");
    track(c.ua.call(uri, media), s);
    return s.sid;
  },
  answer(sid) { session(sid).session.answer(media); },
  hangup(sid) { session(sid).session.terminate(); },
  hold(sid) { session(sid).session.hold(); },
  resume(sid) { session(sid).session.unhold(); },
};
report({ event: "PageReady", library: window.geolab.library });
