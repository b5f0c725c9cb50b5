// Operator console: live queue, alarm card, actions, audio, transcript.
"use strict";

const SEVERITY = { discreet: 0, sos: 0, fall: 1, verticality: 1, no_movement: 1, tear_off: 1,
  link_lost: 2, missed_check_in: 2, low_battery: 3, test: 4 };
const OPEN_STATES = ["received", "offered", "accepted", "escalated"];
const ACCEPT_TARGET_S = 10;
const OUTCOMES = ["false_alarm", "agent_safe", "intervention_dispatched", "cancelled_by_agent",
  "no_response", "test_completed"];

const state = { me: null, alarms: new Map(), selected: null, briefings: new Map(), leg: null, transcripts: new Map(), talkArmed: null, loading: null,
  offers: new Map() };
const CONFIRM_TALK_MS = 5000;
const $ = (id) => document.getElementById(id);

function waiting(alarm) { return alarm.state === "received" || alarm.state === "offered"; }

function sortedQueue() {
  return [...state.alarms.values()].sort((a, b) =>
    (waiting(b) - waiting(a)) || (SEVERITY[a.type] - SEVERITY[b.type]) ||
    (Date.parse(b.received_at) - Date.parse(a.received_at)));
}

function elapsed(alarm) { return Math.max(0, (gw.now() - Date.parse(alarm.received_at)) / 1000); }

function clock(seconds) {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function renderQueue() {
  const list = $("queue");
  const alarms = sortedQueue();
  $("queue-count").textContent = `(${alarms.length})`;
  list.replaceChildren(...alarms.map((a) => {
    const mine = a.handler === state.me?.user;
    return gw.el("li", {
      class: `alarm sev-${SEVERITY[a.type]}${a.id === state.selected?.id ? " selected" : ""}`,
      "data-id": a.id, "data-state": a.state,
    },
    gw.el("div", { class: "alarm-head" },
      gw.el("strong", {}, gw.typeName(a.type)),
      gw.el("span", { class: "timer", "data-received": a.received_at, role: "timer" }, clock(elapsed(a)))),
    gw.el("div", { class: "alarm-meta" }, a.device_id, " · ", gw.stateName(a.state),
      a.handler ? ` · ${gw.t("handled_by")} ${a.handler}` : ""),
    gw.el("div", { class: "alarm-buttons" },
      waiting(a) ? gw.el("button", { type: "button", class: "primary accept", onclick: () => accept(a.id) }, gw.t("accept")) : null,
      gw.el("button", { type: "button", onclick: () => select(a.id) }, gw.t("open")),
      mine ? gw.el("span", { class: "badge" }, "✓") : null,
      waiting(a) && offeredToMe(a.id) ? gw.el("span", { class: "ring" }, gw.t("offered_to_you")) : null));
  }));
  if (!alarms.length) list.append(gw.el("li", { class: "hint" }, gw.t("no_alarms")));
  renderTimers();
}

function offeredToMe(id) { return (state.offers.get(id) || []).includes(state.me?.user); }

function showAlert(msg) {
  const text = `${gw.t(`alert_${msg.alert}`)} – ${msg.reason}`;
  const item = gw.el("li", { role: "alert" }, text, " ",
    gw.el("button", { type: "button", onclick: () => { item.remove(); } }, gw.t("dismiss")));
  $("alerts").prepend(item);
  chime();
}

function renderTimers() {
  document.querySelectorAll("#queue li.alarm").forEach((li) => {
    const alarm = state.alarms.get(li.dataset.id);
    if (!alarm) return;
    const seconds = elapsed(alarm);
    const timer = li.querySelector(".timer");
    timer.textContent = clock(seconds);
    const late = waiting(alarm) && seconds > ACCEPT_TARGET_S;
    li.classList.toggle("overdue", late);
    timer.title = late ? gw.t("overdue") : gw.t("target_accept");
  });
}

function mapLink(loc) {
  return `https://www.openstreetmap.org/?mlat=${loc.lat}&mlon=${loc.lon}#map=17/${loc.lat}/${loc.lon}`;
}

function renderCard() {
  const alarm = state.selected;
  $("card-empty").hidden = !!alarm;
  $("card-body").hidden = !alarm;
  if (!alarm) { $("timeline").replaceChildren(); $("transcript").replaceChildren(); return; }
  $("card-title").textContent = `${gw.t("alarm")} ${gw.typeName(alarm.type)} – ${alarm.device_id}`;
  const loc = alarm.location;
  const positions = (alarm.timeline || []).filter((e) => e.kind === "location_updated").length;
  const rows = [
    ["device", alarm.device_id], ["type", gw.typeName(alarm.type)],
    ["state", gw.stateName(alarm.state) + (alarm.handler ? ` (${alarm.handler})` : "")],
    ["received", gw.time(alarm.received_at)],
    ["battery", alarm.battery_pct === null ? "–" : `${alarm.battery_pct} %`],
  ];
  const facts = rows.flatMap(([k, v]) => [gw.el("dt", {}, gw.t(k)), gw.el("dd", {}, v)]);
  facts.push(gw.el("dt", {}, gw.t("position")), gw.el("dd", {}, loc
    ? [`${loc.lat.toFixed(5)}, ${loc.lon.toFixed(5)}`,
      loc.accuracy_m === null ? "" : ` (${gw.t("accuracy")} ± ${Math.round(loc.accuracy_m)} m)`,
      positions ? ` · ${positions} ↻` : "", " ",
      gw.el("a", { href: mapLink(loc), target: "_blank", rel: "noopener noreferrer" }, gw.t("open_map"))]
    : gw.t("no_position")));
  $("facts").replaceChildren(...facts);
  const mine = alarm.handler === state.me?.user;
  const open = alarm.state !== "closed";
  $("actions").querySelectorAll("fieldset:not(.audio) button, fieldset:not(.audio) input, fieldset:not(.audio) select, fieldset:not(.audio) textarea")
    .forEach((el) => { el.disabled = !(mine && open); });
  const canListen = open && (mine || state.me?.role === "supervisor");
  $("listen").disabled = !canListen || !!state.leg;
  $("talk").disabled = !state.leg;
  $("discreet-warning").hidden = alarm.type !== "discreet";
  $("hangup").disabled = !state.leg;
  $("callback").disabled = !(mine && open);
  $("timeline").replaceChildren(...(alarm.timeline || []).map(gw.entryItem));
  renderBriefing();
  renderTranscript();
}

// Safety instructions (most specific first), then whom to call, reachable ones first.
function renderBriefing() {
  const briefing = state.briefings.get(state.selected?.id);
  $("briefing").hidden = !briefing;
  if (!briefing) return;
  const level = (entry) => gw.el("span", { class: "level" }, gw.t("levels")[entry.level] || entry.level);
  const agent = briefing.agent;
  const who = gw.el("li", { class: "agent" }, gw.el("strong", {}, `${gw.t("agent")}: `),
    [agent.label || agent.device_id, agent.site, agent.agent_group].filter(Boolean).join(" · "));
  $("instructions").replaceChildren(who, ...(briefing.instructions.length
    ? briefing.instructions.map((i) => gw.el("li", { class: "instruction" }, level(i), " ", i.text))
    : [gw.el("li", { class: "hint" }, gw.t("no_instructions"))]));
  const contact = (c) => gw.el("li", { class: c.available ? "contact available" : "contact unavailable" },
    gw.el("strong", {}, c.name), c.role ? ` (${c.role})` : "", " ",
    c.phone ? gw.el("a", { href: `tel:${c.phone.replace(/[ .-]/g, "")}` }, c.phone) : "", " ",
    c.sip_uri ? gw.el("a", { href: c.sip_uri }, c.sip_uri) : "", " · ",
    gw.el("span", { class: "availability" }, gw.t(c.available ? "available" : "unavailable")),
    c.hours.length ? ` (${c.hours.join("; ")})` : "");
  $("contacts").replaceChildren(...(briefing.contacts.length
    ? briefing.contacts.map(contact) : [gw.el("li", { class: "hint" }, gw.t("no_contacts"))]));
}

async function loadBriefing(id) {
  if (state.me?.role === "admin") return;  // admins keep the instructions; they do not handle alarms
  try {
    state.briefings.set(id, await gw.api("GET", `/api/v1/alarms/${id}/briefing`));
  } catch (err) {
    gw.showError(err.message);
    return;
  }
  if (state.selected?.id === id) renderCard();
}

function renderTranscript() {
  const items = state.transcripts.get(state.selected?.id) || [];
  const item = (m) => {
    if (m.type === "cue") {
      return gw.el("li", { class: "cue" }, gw.el("strong", {}, `⚠ ${m.label || m.cue}`),
        typeof m.confidence === "number" ? ` (${Math.round(m.confidence * 100)} %)` : "");
    }
    if (m.type === "assessment") {
      return gw.el("li", { class: `assessment ${m.assessment}` },
        gw.el("strong", {}, `${gw.t("assessment")}: ${m.assessment}`), m.evidence ? ` – ${m.evidence}` : "");
    }
    return gw.el("li", { class: m.final ? "final" : "partial" },
      gw.el("span", { class: "speaker" }, `${m.speaker || "caller"}: `), m.text);
  };
  $("transcript").replaceChildren(...(items.length ? items.map(item)
    : [gw.el("li", { class: "hint" }, gw.t("no_transcript"))]));
}

async function run(action) {
  try { gw.showError(""); return await action(); } catch (err) { gw.showError(err.message); return null; }
}

async function refresh(id) {
  const alarm = await gw.api("GET", `/api/v1/alarms/${id}`);
  if (OPEN_STATES.includes(alarm.state)) state.alarms.set(id, alarm); else state.alarms.delete(id);
  if (state.selected?.id === id) state.selected = alarm;
  renderQueue();
  renderCard();
}

async function select(id) {
  if (state.leg && state.leg.alarmId !== id) await hangup();
  const alarm = await run(() => gw.api("GET", `/api/v1/alarms/${id}`));
  if (alarm) { state.selected = alarm; renderQueue(); renderCard(); loadBriefing(id); }
}

async function accept(id) {
  const alarm = await run(() => gw.api("POST", `/api/v1/alarms/${id}/accept`));
  if (alarm) { state.alarms.set(id, alarm); state.selected = alarm; renderQueue(); renderCard(); loadBriefing(id); }
}

async function act(path, body) {
  const id = state.selected.id;
  const alarm = await run(() => gw.api("POST", `/api/v1/alarms/${id}/${path}`, body));
  if (alarm) { state.selected = alarm; await refresh(id); }
  return alarm;
}

async function listen() {
  const leg = new AudioLeg(state.selected.id, $("remote"), (level) => {
    $("level").value = Math.min(1, level * 8);
    window.gwAudioLevel = level;
  });
  state.leg = leg;
  renderCard();
  const ok = await run(() => leg.connect().then(() => true));
  if (!ok) { await leg.close(false); state.leg = null; renderCard(); return; }
  setAudioState();
}

function setAudioState() {
  const leg = state.leg;
  $("audio-state").textContent = !leg ? gw.t("not_connected") : leg.talking ? gw.t("talking") : gw.t("listening");
  $("audio-state").classList.toggle("talking", !!leg?.talking);
  $("talk").setAttribute("aria-pressed", String(!!leg?.talking));
}

async function toggleTalk() {
  if (!state.leg) return;
  // A discreet alarm may mean the agent is under threat: speaking takes a second click.
  const discreet = state.selected?.type === "discreet";
  if (!state.leg.talking && discreet && !(state.talkArmed && Date.now() - state.talkArmed < CONFIRM_TALK_MS)) {
    state.talkArmed = Date.now();
    $("talk").textContent = gw.t("talk_confirm");
    setTimeout(() => { state.talkArmed = null; $("talk").textContent = gw.t("talk"); }, CONFIRM_TALK_MS);
    return;
  }
  state.talkArmed = null;
  $("talk").textContent = gw.t("talk");
  await run(() => state.leg.setTalking(!state.leg.talking));
  setAudioState();
}

// A short two-tone chime made on the spot: no sound file, nothing fetched.
function chime() {
  try {
    const ctx = chime.ctx || (chime.ctx = new AudioContext());
    [880, 660].forEach((hz, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = ctx.currentTime + i * 0.18;
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.2, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.17);
    });
  } catch (err) { /* no audio output: the visual queue still shows the alarm */ }
}

async function hangup() {
  if (!state.leg) return;
  const leg = state.leg;
  state.leg = null;
  await run(() => leg.close());
  setAudioState();
  renderCard();
}

function socket(path, onMessage, onOpen) {
  const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
  let delay = 500;
  const connect = () => {
    const ws = new WebSocket(url);
    ws.addEventListener("open", () => { delay = 500; $("live").textContent = ""; if (onOpen) onOpen(); });
    ws.addEventListener("message", (ev) => onMessage(JSON.parse(ev.data)));
    ws.addEventListener("close", () => {
      $("live").textContent = gw.t("connection_lost");
      gw.api("GET", "/api/v1/alarms?limit=1").catch(() => {}); // an expired session goes to login
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    });
  };
  connect();
}

function onEvent(msg) {
  if (msg.type === "hello") {
    state.me = { user: msg.user, role: msg.role };
    $("user").textContent = `${msg.user} (${msg.role})`;
    $("nav-review").hidden = msg.role === "operator";
  } else if (msg.type === "alarm") {
    const a = msg.alarm;
    if (msg.entry?.kind === "raised") {
      $("announce").textContent = `${gw.t("new_alarm")}: ${gw.typeName(a.type)}, ${a.device_id}`;
      chime();
    }
    if (state.loading) state.loading.set(a.id, a);
    if (OPEN_STATES.includes(a.state)) state.alarms.set(a.id, a); else state.alarms.delete(a.id);
    renderQueue();
    if (state.selected?.id === a.id) {
      if (state.leg && a.state === "closed") hangup();
      run(() => refresh(a.id));
    }
  } else if (msg.type === "offer") {
    state.offers.set(msg.alarm_id, msg.members || []);
    renderQueue();
    if (offeredToMe(msg.alarm_id)) chime();
  } else if (msg.type === "offer_cancelled") {
    state.offers.delete(msg.alarm_id);
    renderQueue();
  } else if (msg.type === "alert") {
    showAlert(msg);
  } else if (msg.type === "system" && "dc09_link_up" in msg) {
    $("system").hidden = msg.dc09_link_up;
    $("system").textContent = msg.dc09_link_up ? "" : `${gw.t("dc09_down")}: ${msg.reason || ""}`;
  } else if (msg.type === "transcript" || msg.type === "cue" || msg.type === "assessment") {
    const list = state.transcripts.get(msg.alarm_id) || [];
    if (msg.type === "transcript" && !msg.final && list.length && !list.at(-1).final && list.at(-1).type === "transcript") list.pop();
    list.push(msg);
    state.transcripts.set(msg.alarm_id, list.slice(-200));
    if (state.selected?.id === msg.alarm_id) renderTranscript();
  } else if (msg.type === "overflow") {
    loadQueue();
  }
}

// The queue snapshot and the live events race: an event that arrives while the
// snapshot is in flight may be newer than it, so it is applied on top, never lost.
async function loadQueue() {
  const during = new Map();
  state.loading = during;
  const query = OPEN_STATES.map((s) => `state=${s}`).join("&");
  const data = await run(() => gw.api("GET", `/api/v1/alarms?${query}&limit=500`));
  if (state.loading === during) state.loading = null;
  if (!data) return;
  const fresh = new Map(data.alarms.map((a) => [a.id, a]));
  for (const [id, a] of during) {
    const known = fresh.get(id);
    if (known && Date.parse(known.updated_at) > Date.parse(a.updated_at)) continue;
    if (OPEN_STATES.includes(a.state)) fresh.set(id, a); else fresh.delete(id);
  }
  state.alarms = fresh;
  renderQueue();
}

document.addEventListener("DOMContentLoaded", () => {
  gw.setupLanguage(() => { renderQueue(); renderCard(); setAudioState(); fillOutcomes(); });
  const fillOutcomes = () => $("close-outcome").replaceChildren(
    ...OUTCOMES.map((o) => gw.el("option", { value: o }, gw.outcomeName(o))));
  fillOutcomes();
  $("logout").addEventListener("click", () => gw.logout());
  $("listen").addEventListener("click", listen);
  $("talk").addEventListener("click", toggleTalk);
  $("hangup").addEventListener("click", hangup);
  $("callback").addEventListener("click", async () => {
    if (await run(() => gw.api("POST", `/api/v1/alarms/${state.selected.id}/callback`))) {
      $("audio-state").textContent = gw.t("callback_started");
    }
  });
  document.querySelectorAll("[data-verdict]").forEach((b) => b.addEventListener("click",
    () => act("doubt-removed", { verdict: b.dataset.verdict })));
  $("dispatch-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("escalate", { target: $("dispatch-target").value, reference: $("dispatch-ref").value || null });
  });
  $("escalate-manager").addEventListener("click", () => act("escalate", { target: "manager" }));
  $("note-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (await act("notes", { text: $("note-text").value })) $("note-text").value = "";
  });
  $("close-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await hangup();
    await act("close", { outcome: $("close-outcome").value, comment: $("close-comment").value || null });
  });
  $("release").addEventListener("click", async () => {
    await hangup();
    await act("release", { reason: "released by the operator" });
  });
  socket("/api/v1/events", onEvent, loadQueue);
  socket("/api/v1/console/presence", () => {});
  setInterval(renderTimers, 500);
  // Browsers only let a page make sound after a user gesture: unlock the chime on the first one.
  document.addEventListener("pointerdown", () => {
    chime.ctx = chime.ctx || new AudioContext();
    chime.ctx.resume();
  }, { once: true });
  renderCard();
});
