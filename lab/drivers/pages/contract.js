// What every reference page shares: reporting to the driver through its binding, one
// status event per change, and the page's connections and sessions by id.
export const connections = new Map(); // connection id -> the page's record of it
export const sessions = new Map(); // session id -> {sid, session, connection, direction, remote, status}
let nextSession = 0;

export function report(event) {
  event.wall = performance.timeOrigin + performance.now(); // ms: the page→lab delay is measured
  window.geolabReport(JSON.stringify(event));
}

export function connectionStatus(c, status, reason = "", code = null) {
  if (c.status === status) return; // one event per change
  const previous = c.status;
  c.status = status;
  report({ event: "ConnectionStatusChanged", connection: c.cfg.id, status, previous, reason, code });
}

export function sessionStatus(s, status, reason = "", code = null) {
  if (s.status === status) return;
  const previous = s.status;
  s.status = status;
  report({
    event: "SessionStatusChanged", session: s.sid, connection: s.connection,
    connection_id: s.connection, status, previous, direction: s.direction, remote: s.remote,
    reason, code,
  });
}

export function record(prefix, connection, direction, remote) {
  const sid = `${prefix}${++nextSession}`;
  const s = { sid, session: null, connection, direction, remote, status: null };
  sessions.set(sid, s);
  return s;
}

export function connection(id) {
  const c = connections.get(id);
  if (!c) throw new Error(`no connection ${id}`);
  return c;
}

export function session(sid) {
  const s = sessions.get(sid);
  if (!s) throw new Error(`no session ${sid}`);
  return s;
}

// A connection's life on the page, the same for every library: ``start(c)`` makes and starts
// its user agent, ``stop(c)`` (may be async) unregisters and closes it and sets c.stopping.
export function lifecycle(start, stop) {
  return {
    add(cfg) {
      if (connections.has(cfg.id)) throw new Error(`connection ${cfg.id} exists already`);
      const c = { cfg, ua: null, status: null, stopping: false };
      connections.set(cfg.id, c);
      if (cfg.enabled === false) {
        connectionStatus(c, "Disabled");
        return;
      }
      connectionStatus(c, "Registering");
      start(c);
    },
    enable(id) {
      const c = connection(id);
      if (c.status !== "Disabled") return;
      c.stopping = false;
      connectionStatus(c, "Registering");
      start(c);
    },
    async disable(id) {
      const c = connection(id);
      if (c.status === "Disabled") return;
      await stop(c); // unregisters (Expires: 0) and closes its WebSocket
      connectionStatus(c, "Disabled");
    },
    async remove(id) {
      const c = connection(id);
      await stop(c);
      connections.delete(id);
      connectionStatus(c, "Removed");
    },
    async stop() {
      await Promise.all([...connections.values()].map(stop));
    },
  };
}
