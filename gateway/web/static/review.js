// Supervisor review: history search, service-level figures, timelines, CSV export.
"use strict";

const OUTCOMES = ["false_alarm", "agent_safe", "intervention_dispatched", "cancelled_by_agent",
  "no_response", "test_completed"];
const $ = (id) => document.getElementById(id);
let last = null;
let shown = null;

function query() {
  const form = new FormData($("filters"));
  const params = new URLSearchParams();
  for (const [k, v] of form.entries()) if (v) params.set(k, v);
  return params;
}

function fillSelects() {
  const any = () => gw.el("option", { value: "" }, gw.t("any"));
  const keep = (id, options) => { const v = $(id).value; $(id).replaceChildren(any(), ...options); $(id).value = v; };
  keep("f-type", gw.ALARM_TYPES.map((t) => gw.el("option", { value: t }, gw.typeName(t))));
  keep("f-outcome", OUTCOMES.map((o) => gw.el("option", { value: o }, gw.outcomeName(o))));
}

function tile(label, value, target, ok) {
  return gw.el("div", { class: `tile${ok === false ? " bad" : ok ? " good" : ""}` },
    gw.el("div", { class: "tile-label" }, label),
    gw.el("div", { class: "tile-value" }, value),
    target ? gw.el("div", { class: "tile-target" }, `${gw.t("target")} ${target}`) : null);
}

function renderFigures(data) {
  const f = data.total;
  const meets = (v, goal) => (v === null ? undefined : v >= goal);
  $("tiles").replaceChildren(
    tile(gw.t("alarms"), String(f.alarms)),
    tile(gw.t("accept_p50"), gw.seconds(f.accept_p50_s)),
    tile(gw.t("accept_p90"), gw.seconds(f.accept_p90_s)),
    tile(gw.t("within10"), gw.share(f.accept_within_10s), "≥ 80 %", meets(f.accept_within_10s, 0.8)),
    tile(gw.t("within40"), gw.share(f.accept_within_40s), "≥ 98.5 %", meets(f.accept_within_40s, 0.985)),
    tile(gw.t("doubt_p50"), gw.seconds(f.doubt_removal_p50_s)),
    tile(gw.t("doubt_p90"), gw.seconds(f.doubt_removal_p90_s)),
    tile(gw.t("false_rate"), gw.share(f.false_alarm_rate)),
  );
  const head = gw.el("tr", {}, gw.el("th", { scope: "col" }, gw.t(data.group === "device" || data.group === "type" ? data.group : "period")),
    ...["alarms", "accept_p50", "within10", "within40", "doubt_p50", "false_rate"].map((k) => gw.el("th", { scope: "col" }, gw.t(k))),
    ...OUTCOMES.map((o) => gw.el("th", { scope: "col" }, gw.outcomeName(o))));
  const rows = Object.entries(data.groups).map(([key, g]) => gw.el("tr", {},
    gw.el("th", { scope: "row" }, data.group === "type" ? gw.typeName(key) : key),
    gw.el("td", {}, String(g.alarms)), gw.el("td", {}, gw.seconds(g.accept_p50_s)),
    gw.el("td", {}, gw.share(g.accept_within_10s)), gw.el("td", {}, gw.share(g.accept_within_40s)),
    gw.el("td", {}, gw.seconds(g.doubt_removal_p50_s)), gw.el("td", {}, gw.share(g.false_alarm_rate)),
    ...OUTCOMES.map((o) => gw.el("td", {}, String(g.outcomes[o] || 0)))));
  $("groups").replaceChildren(gw.el("thead", {}, head), gw.el("tbody", {}, ...rows));
}

function renderAlarms(data) {
  const head = gw.el("tr", {}, ...["received", "device", "type", "state", "outcome", "accepted_by",
    "accept_s", "doubt_s", "listeners"].map((k) => gw.el("th", { scope: "col" }, gw.t(k))));
  const rows = data.alarms.map((a) => gw.el("tr", { tabindex: "0", "data-id": a.id,
    onclick: () => showTimeline(a.id), onkeydown: (ev) => { if (ev.key === "Enter") showTimeline(a.id); } },
  gw.el("td", {}, gw.time(a.received_at)), gw.el("td", {}, a.device_id), gw.el("td", {}, gw.typeName(a.type)),
  gw.el("td", {}, gw.stateName(a.state)), gw.el("td", {}, a.outcome ? gw.outcomeName(a.outcome) : "–"),
  gw.el("td", {}, a.accepted_by || "–"), gw.el("td", { class: "num" }, gw.seconds(a.accept_s)),
  gw.el("td", { class: "num" }, gw.seconds(a.doubt_removal_s)), gw.el("td", {}, a.listeners.join(", ") || "–")));
  $("alarms").replaceChildren(gw.el("thead", {}, head), gw.el("tbody", {}, ...rows));
}

async function showTimeline(id) {
  try {
    shown = await gw.api("GET", `/api/v1/alarms/${id}`);
    renderTimeline();
    const { recordings } = await gw.api("GET", `/api/v1/alarms/${id}/recordings`);
    $("recordings").replaceChildren(...(recordings.length
      ? recordings.map((name) => gw.el("li", {}, gw.el("span", {}, name),
        gw.el("audio", { controls: true, preload: "none", src: `/api/v1/alarms/${id}/recordings/${encodeURIComponent(name)}` })))
      : [gw.el("li", { class: "hint" }, gw.t("no_recordings"))]));
  } catch (err) { gw.showError(err.message); }
}

function renderTimeline() {
  const alarm = shown;
  if (alarm) {
    $("detail-title").textContent = `${gw.t("timeline")} – ${gw.typeName(alarm.type)} ${alarm.device_id}`;
    $("detail").replaceChildren(...alarm.timeline.map(gw.entryItem));
  }
}

async function search() {
  const params = query();
  $("csv").href = `/api/v1/review/alarms.csv?${params}`;
  try {
    gw.showError("");
    const [figures, alarms] = await Promise.all([
      gw.api("GET", `/api/v1/review/figures?${params}`),
      gw.api("GET", `/api/v1/review/alarms?${params}`),
    ]);
    last = { figures, alarms };
    renderFigures(figures);
    renderAlarms(alarms);
  } catch (err) { gw.showError(err.message); }
}

document.addEventListener("DOMContentLoaded", () => {
  gw.setupLanguage(() => { fillSelects(); if (last) { renderFigures(last.figures); renderAlarms(last.alarms); } renderTimeline(); });
  fillSelects();
  const today = new Date();
  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  const form = $("filters");
  form.to.value = iso(today);
  form.from.value = iso(new Date(today.getTime() - 29 * 86400000));
  form.tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  form.addEventListener("submit", (ev) => { ev.preventDefault(); search(); });
  const admin = sessionStorage.getItem("gw_role") === "admin";
  $("nav-admin").hidden = !admin;
  $("nav-console").hidden = admin;
  $("logout").addEventListener("click", () => gw.logout());
  search();
});
