// geolab's reference page for SIP.js: the page contract (docs/endpoint-protocol.md, "A page
// of your own") on SIP.js 0.21's API (UserAgent, Registerer, Inviter), one UserAgent and
// one Registerer per connection. It only translates, with SIP.js's defaults where the drill
// has no setting: a reconnection is SIP.js's own (retry_interval as its delay), and nothing
// here registers again after one (SIP.js does not; its SimpleUser does, in the app's name).
import { Inviter, Registerer, RegistererState, SessionState, UserAgent } from "sip.js";
import { connection, connectionStatus, lifecycle, record, report, session, sessionStatus } from "./contract.js";

const media = { constraints: { audio: true, video: false } };
const noStun = { peerConnectionConfiguration: { iceServers: [] } };

function startUa(c) {
  const cfg = c.cfg;
  const ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${cfg.user}@${cfg.domain}`),
    transportOptions: { server: cfg.ws_url },
    authorizationUsername: cfg.auth_user || cfg.user,
    authorizationPassword: cfg.password || undefined,
    // SIP.js's only retry: its transport's reconnection, every retry_interval, until it connects
    reconnectionAttempts: 1000000,
    reconnectionDelay: Math.max(1, Math.ceil(cfg.retry_interval)),
    sessionDescriptionHandlerFactoryOptions: noStun,
    userAgentString: "geolab-sipjs",
    logLevel: "warn",
    delegate: {
      // SIP.js's Registerer keeps its state through a lost transport (registered until its
      // expiry): only a first connection that fails is said here, as a failed registration
      onDisconnect: (error) => {
        if (c.stopping || !error || c.status !== "Registering") return;
        connectionStatus(c, "Unavailable", `transport error: ${error.message || error}`, null);
      },
      onInvite: (invitation) => {
        const s = record("s", cfg.id, "inbound", invitation.remoteIdentity.uri.toString());
        track(invitation, s);
        sessionStatus(s, "Ringing", "incoming", null);
      },
    },
  });
  // SIP.js refreshes at refreshFrequency % (50..99) of the expiry: Expires = reg_interval + 5 s
  const expires = Math.ceil(cfg.reg_interval) + 5;
  const registerer = new Registerer(ua, {
    expires,
    refreshFrequency: Math.min(99, Math.max(50, (100 * cfg.reg_interval) / expires)),
  });
  c.ua = ua;
  c.registerer = registerer;
  registerer.stateChange.addListener((state) => {
    if (c.stopping) return;
    if (state === RegistererState.Registered) connectionStatus(c, "Available", "OK", 200);
    else if (state === RegistererState.Unregistered) {
      const last = c.last || { reason: "unregistered", code: null };
      c.last = null;
      connectionStatus(c, "Unavailable", last.reason, last.code);
    }
  });
  const delegate = {
    requestDelegate: {
      onReject: (response) => {
        c.last = { reason: response.message.reasonPhrase, code: response.message.statusCode };
      },
    },
  };
  ua.start()
    .then(() => registerer.register(delegate))
    .catch((error) => {
      if (!c.stopping) connectionStatus(c, "Unavailable", `transport error: ${error.message || error}`, null);
    });
}

function track(session, s) {
  s.session = session;
  session.stateChange.addListener((state) => {
    if (state === SessionState.Established) sessionStatus(s, "Established", "answered", 200);
    else if (state === SessionState.Terminated) {
      sessionStatus(s, "Disconnected", s.local ? "LocalHangup" : s.status === "Established" ? "RemoteHangup" : "RemoteCancel", null);
    }
  });
}

async function stopUa(c) {
  c.stopping = true;
  if (c.registerer) await c.registerer.unregister().catch(() => {});
  if (c.ua) await c.ua.stop().catch(() => {});
  c.ua = null;
  c.registerer = null;
}

window.geolab = {
  library: "SIP.js 0.21",
  ...lifecycle(startUa, stopUa),
  dial(id, destination) {
    const c = connection(id);
    if (!c.ua) throw new Error(`connection ${id} is disabled`);
    const uri = destination.startsWith("sip:") ? destination : `sip:${destination}@${c.cfg.domain}`;
    const target = UserAgent.makeURI(uri);
    if (!target) throw new Error(`not a SIP URI: ${uri}`);
    const s = record("s", id, "outbound", uri);
    sessionStatus(s, "Dialing", "dial");
    const inviter = new Inviter(c.ua, target, { sessionDescriptionHandlerOptions: media });
    track(inviter, s);
    inviter.invite({
      requestDelegate: {
        onProgress: (r) => sessionStatus(s, "Ringing", r.message.reasonPhrase, r.message.statusCode),
        onReject: (r) => sessionStatus(s, "Disconnected", `SipError ${r.message.statusCode} ${r.message.reasonPhrase}`, r.message.statusCode),
      },
    });
    return s.sid;
  },
  answer(sid) { return session(sid).session.accept({ sessionDescriptionHandlerOptions: media }); },
  hangup(sid) {
    const s = session(sid);
    s.local = true;
    const x = s.session;
    if (x.state === SessionState.Established) return x.bye();
    return s.direction === "outbound" ? x.cancel() : x.reject();
  },
  hold() { throw new Error("this page offers no hold: SIP.js 0.21 holds only through the page's own SDP handling"); },
  resume() { throw new Error("this page offers no resume: SIP.js 0.21 holds only through the page's own SDP handling"); },
};
report({ event: "PageReady", library: window.geolab.library });
