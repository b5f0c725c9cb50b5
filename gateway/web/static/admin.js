// Back office pages (admin role): instructions, contacts, devices, agents, CSV import,
// organisations, staff accounts, audit log. Data is only ever written with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const SCOPE = ["tenant", "site", "agent_group", "device_id"];
const loaded = {};  // section -> last answer, to render again in another language; never secrets

// ---- small helpers shared by every section ------------------------------------------------

// A form's fields as a JSON body, typed fields converted; empty fields are left out, or
// sent as ``empty`` (null clears them in a PATCH).
function formBody(form, empty) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "submit" || el.type === "file" || el.readOnly || el.disabled) continue;
    const type = el.dataset.type;
    if (el.type === "checkbox") {
      if (type === "bool") body[el.name] = el.checked;
      else if (type === "set") body[el.name] = [...(body[el.name] || []), ...(el.checked ? [el.value] : [])];
      continue;
    }
    const value = el.value.trim();
    if (type === "lines") body[el.name] = value.split("\n").map((s) => s.trim()).filter(Boolean);
    else if (value !== "") body[el.name] = type === "int" ? Number(value) : value;
    else if (empty !== undefined) body[el.name] = empty;
  }
  return body;
}

function say(message) {
  const box = $("done");
  box.textContent = message;
  box.hidden = !message;
}

// Runs an API call, shows its failure in the error banner; undefined on failure only.
async function run(action) {
  gw.showError("");
  say("");
  try {
    return (await action()) ?? null;
  } catch (err) {
    gw.showError(err.message);
    return undefined;
  }
}

// A table with a header row, one row per item and an actions column.
function table(id, columns, rows, actions) {
  const head = gw.el("tr", {}, ...columns.map(([key]) => gw.el("th", { scope: "col" }, gw.t(key))),
    actions ? gw.el("th", { scope: "col" }, gw.t("actions")) : null);
  const body = rows.length ? rows.map((row) => gw.el("tr", {},
    ...columns.map(([, cell]) => gw.el("td", {}, cell(row) ?? "–")),
    actions ? gw.el("td", { class: "row-actions" }, actions(row)) : null))
    : [gw.el("tr", {}, gw.el("td", { colspan: columns.length + 1, class: "hint" }, gw.t("nothing_yet")))];
  $(id).replaceChildren(gw.el("thead", {}, head), gw.el("tbody", {}, ...body));
}

// True on the second click within 5 s, for what cannot be undone; the first asks for it.
function confirmed(button, key) {
  if (button.dataset.armed) {
    clearTimeout(Number(button.dataset.armed));
    delete button.dataset.armed;
    button.textContent = gw.t(key);
    return true;
  }
  button.textContent = gw.t("confirm");
  button.dataset.armed = String(setTimeout(() => {
    delete button.dataset.armed;
    button.textContent = gw.t(key);
  }, 5000));
  return false;
}

function confirmButton(key, action, cls = "danger") {
  const button = gw.el("button", { type: "button", class: cls }, gw.t(key));
  button.addEventListener("click", async () => {
    if (!confirmed(button, key)) return;
    button.disabled = true;
    await action();
    button.disabled = false;
  });
  return button;
}

function button(key, action) {
  return gw.el("button", { type: "button", onclick: action }, gw.t(key));
}

function scopeText(row) {
  const parts = SCOPE.filter((k) => row[k]).map((k) => `${gw.t(k)}${gw.t("colon")}${row[k]}`);
  return parts.length ? parts.join(" · ") : gw.t("levels").all;
}

// Secrets (device tokens, SIP passwords) are shown once in a dialog, to copy; they go
// straight from the answer into it and closing the dialog forgets them.
function secretField(label, value) {
  const input = gw.el("input", { readonly: true, value, "aria-label": label, spellcheck: "false" });
  const copy = gw.el("button", { type: "button" }, gw.t("copy"));
  copy.addEventListener("click", async () => {
    input.select();
    try { await navigator.clipboard.writeText(input.value); } catch { document.execCommand("copy"); }
    copy.textContent = gw.t("copied");
  });
  return gw.el("dd", {}, input, copy);
}

function showSecrets(pairs) {
  $("secret-values").replaceChildren(...pairs.filter(([, value]) => value)
    .flatMap(([key, value]) => [gw.el("dt", {}, gw.t(key)), secretField(gw.t(key), value)]));
  $("secret").showModal();
}

// Each device the import created, with one line of CSV to copy them all at once.
function showImported(credentials) {
  const keys = ["device_id", "token", "sip_username", "sip_password"];
  const csv = [keys.join(","), ...credentials.map((c) => keys.map((k) => c[k]).join(","))].join("\n");
  const rows = credentials.map((c) => gw.el("tr", {}, ...keys.map((k) => gw.el("td", {}, c[k]))));
  const all = secretField(gw.t("all_credentials"), csv);
  $("secret-values").replaceChildren(gw.el("dt", {}, gw.t("all_credentials")), all,
    gw.el("dd", { class: "wide" }, gw.el("table", { class: "grid" },
      gw.el("thead", {}, gw.el("tr", {}, ...keys.map((k) => gw.el("th", { scope: "col" }, gw.t(k))))),
      gw.el("tbody", {}, ...rows))));
  $("secret").showModal();
}

function counts(c) {
  return `${gw.t("created")} ${c.created}, ${gw.t("updated")} ${c.updated}, ${gw.t("unchanged")} ${c.unchanged}`;
}

// ---- sections ----------------------------------------------------------------------------
// Each has load() (fetch into ``loaded``), render() (draw ``loaded``) and submit(form, button),
// which returns the message to show, if not "Saved."

const SECTIONS = {
  instructions: {
    async load() { loaded.instructions = await gw.api("GET", "/api/v1/instructions"); },
    render() {
      table("instruction-list", [
        ["applies_to", scopeText],
        ["types_column", (i) => i.alarm_types.map(gw.typeName).join(", ") || gw.t("all_types")],
        ["text", (i) => i.text],
      ], loaded.instructions.instructions, (i) => confirmButton("delete", () => remove(`/api/v1/instructions/${i.id}`, "instructions")));
    },
    async submit(form) {
      await gw.api("POST", "/api/v1/instructions", formBody(form));
      form.reset();
    },
  },
  contacts: {
    async load() { loaded.contacts = await gw.api("GET", "/api/v1/contacts"); },
    render() {
      table("contact-list", [
        ["rank", (c) => String(c.rank)],
        ["name", (c) => c.role ? `${c.name} (${c.role})` : c.name],
        ["reach", (c) => [c.phone, c.sip_uri, c.webhook_url].filter(Boolean).join(" · ")],
        ["hours_column", (c) => c.hours.length ? `${c.hours.join(", ")} (${c.zone})` : gw.t("always")],
        ["applies_to", scopeText],
      ], loaded.contacts.contacts, (c) => confirmButton("delete", () => remove(`/api/v1/contacts/${c.id}`, "contacts")));
    },
    async submit(form) {
      await gw.api("POST", "/api/v1/contacts", formBody(form));
      form.reset();
    },
  },
  devices: {
    async load() { loaded.devices = await gw.api("GET", "/api/v1/devices"); },
    render() {
      table("device-list", [
        ["device", (d) => d.id],
        ["label", (d) => d.label],
        ["agent", (d) => d.agent_id],
        ["placement", scopeText],
        ["sip_username", (d) => d.sip_username],
        ["state", (d) => gw.t(d.revoked ? "revoked" : "active")],
      ], loaded.devices.devices, (d) => d.revoked ? [] : [
        confirmButton("rotate", () => rotate(d.id), ""), " ",
        confirmButton("sip_credentials", () => sipCredentials(d.id), ""), " ",
        confirmButton("revoke", () => revoke(d.id))]);
    },
    async submit(form) {
      const made = await gw.api("POST", "/api/v1/devices", formBody(form));
      form.reset();
      showSecrets([["token", made.token], ["sip_username", made.sip.sip_username],
        ["sip_password", made.sip.sip_password], ["realm", made.sip.realm]]);
    },
  },
  agents: {
    async load() { loaded.agents = await gw.api("GET", "/api/v1/agents"); },
    render() {
      table("agent-list", [
        ["agent_id", (a) => a.id],
        ["name", (a) => a.name],
        ["placement", scopeText],
        ["phone", (a) => a.phone],
        ["devices", (a) => a.devices.join(", ")],
        ["safety_notes", (a) => a.safety_notes],
      ], loaded.agents.agents, (a) => [button("edit", () => editAgent(a)), " ",
        button("personal_data", () => showPersonal(a.id)), " ",
        confirmButton("erase", () => erase(a.id)), " ",
        confirmButton("delete", () => remove(`/api/v1/agents/${encodeURIComponent(a.id)}`, "agents"))]);
    },
    async submit(form) {
      const editing = form.dataset.editing;
      if (editing) await gw.api("PATCH", `/api/v1/agents/${encodeURIComponent(editing)}`, formBody(form, null));
      else await gw.api("POST", "/api/v1/agents", formBody(form));
      form.reset();
    },
  },
  import: {
    async load() {},
    render() {
      const result = loaded.import;
      if (!result) return;
      const refused = result.errors.length && !result.applied;
      $("import-summary").replaceChildren(
        gw.el("strong", {}, gw.t(result.mode === "validate" ? "validated" : refused ? "import_nothing" : "imported")), " ",
        [[gw.t("rows"), result.rows], [gw.t("agents"), counts(result.agents)], [gw.t("devices"), counts(result.devices)],
          [gw.t("rows_bad"), new Set(result.errors.map((e) => e.line)).size]].map(([k, v]) => `${k}${gw.t("colon")}${v}`).join(" · "));
      table("import-errors", [["line", (e) => String(e.line)], ["column", (e) => e.column], ["reason", (e) => e.reason]],
        result.errors);
    },
    async submit(form, submitter) {
      const mode = submitter.value === "validate" ? "validate" : form.elements.namedItem("partial").checked ? "partial" : "all";
      const text = await form.elements.namedItem("file").files[0].text();
      let result;
      try {
        result = await gw.api("POST", `/api/v1/imports/agents?mode=${mode}`, text, "text/csv");
      } catch (err) {
        if (err.status !== 422 || !err.data.errors) throw err;
        result = err.data;  // refused whole: the rows to correct
      }
      const { credentials, ...kept } = result;
      loaded.import = kept;
      SECTIONS.import.render();
      if (credentials.length) showImported(credentials);
      return "";
    },
  },
  tenants: {
    async load() { loaded.tenants = await gw.api("GET", "/api/v1/tenants"); },
    render() {
      table("tenant-list", [
        ["name", (t) => t.name],
        ["pilot_column", (t) => gw.t(t.pilot ? "yes" : "no")],
        ["used", (t) => `${t.used} / ${t.licences ?? "∞"}`],
        ["agents", (t) => String(t.agents)],
        ["site", (t) => t.sites.join(", ")],
        ["agent_group", (t) => t.groups.join(", ")],
      ], loaded.tenants.tenants, (t) => button("edit", () => editTenant(t)));
    },
    async submit(form) {
      const body = formBody(form);
      const known = loaded.tenants.tenants.some((t) => t.name === body.name);
      if (known) await gw.api("PATCH", `/api/v1/tenants/${encodeURIComponent(body.name)}`, { pilot: body.pilot, licences: body.licences ?? null });
      else await gw.api("POST", "/api/v1/tenants", body);
      form.reset();
    },
  },
  users: {
    async load() { loaded.users = await gw.api("GET", "/api/v1/users"); },
    render() {
      table("user-list", [
        ["name", (u) => u.name],
        ["role", (u) => roleName(u.role)],
        ["tenants", (u) => u.tenants.join(", ") || gw.t("centre_wide")],
        ["state", (u) => gw.t(u.disabled ? "disabled" : "active")],
      ], loaded.users.users, (u) => u.disabled ? [] : [button("set_tenants", () => editUser(u)), " ",
        confirmButton("disable", () => disableUser(u.name))]);
    },
    async submit(form) {
      const body = formBody(form);
      const editing = form.dataset.editing;
      if (editing) await gw.api("PUT", `/api/v1/users/${encodeURIComponent(editing)}/tenants`, { tenants: body.tenants });
      else await gw.api("POST", "/api/v1/users", body);
      form.reset();
    },
  },
  audit: {
    async load() {},
    render() {
      const result = loaded.audit;
      if (!result) return;
      $("verify-result").replaceChildren(gw.el("strong", { class: result.intact ? "ok" : "error" },
        gw.t(result.intact ? "chain_ok" : "chain_broken")), ` · ${gw.t("entries")}${gw.t("colon")}${result.entries}`,
      ` · ${gw.t("last_hash")}${gw.t("colon")}`, gw.el("code", {}, result.last_hash));
      table("verify-problems", [["entry", (p) => String(p.entry_id)], ["fault", (p) => p.fault], ["reason", (p) => p.reason]],
        result.problems);
    },
  },
};

function roleName(role) {
  return gw.t(role === "admin" ? "admin_role" : role);
}

function editUser(user) {
  const form = $("user-form");
  form.dataset.editing = user.name;
  const fields = form.elements;
  fields.namedItem("name").value = user.name;
  fields.namedItem("role").value = user.role;
  fields.namedItem("tenants").value = user.tenants.join("\n");
  for (const name of ["name", "role", "password"]) fields.namedItem(name).disabled = true;  // only tenants change
  fields.namedItem("tenants").focus();
}

async function disableUser(name) {
  if (await run(() => gw.api("POST", `/api/v1/users/${encodeURIComponent(name)}/disable`)) !== undefined) {
    await reload("users");
  }
}

function editAgent(agent) {
  const form = $("agent-form");
  form.dataset.editing = agent.id;
  for (const el of form.elements) {
    if (!el.name || el.type === "submit" || el.type === "reset") continue;
    el.value = agent[el.name] ?? "";
    el.readOnly = el.name === "id" || el.name === "tenant";  // fixed once created
  }
  form.elements.namedItem("name").focus();
}

// What is held about one agent (right of access), shown in the page and not kept after closing.
async function showPersonal(id) {
  const path = `/api/v1/agents/${encodeURIComponent(id)}/personal-data`;
  const found = await run(() => gw.api("GET", path));
  if (!found) return;
  $("personal-agent").textContent = id;
  $("personal-download").href = path;
  $("personal-data").textContent = JSON.stringify(found, null, 2);
  $("personal").hidden = false;
  $("personal").scrollIntoView();
}

function closePersonal() {
  $("personal").hidden = true;
  $("personal-data").textContent = "";
}

// Right to erasure: the alarms stay as anonymous statistics.
async function erase(id) {
  const done = await run(() => gw.api("POST", `/api/v1/agents/${encodeURIComponent(id)}/erase`));
  if (!done) return;
  closePersonal();
  say(`${gw.t("erased")} ${gw.t("alarms")}${gw.t("colon")}${done.alarms.length} · ${gw.t("recordings")}${gw.t("colon")}${done.recordings_removed.length}`);
  await reload("agents");
}

function editTenant(tenant) {
  const form = $("tenant-form");
  form.elements.namedItem("name").value = tenant.name;
  form.elements.namedItem("licences").value = tenant.licences ?? "";
  form.elements.namedItem("pilot").checked = tenant.pilot;
  form.elements.namedItem("licences").focus();
}

async function remove(path, section) {
  if (await run(() => gw.api("DELETE", path)) !== undefined) await reload(section);
}

async function rotate(id) {
  const answer = await run(() => gw.api("POST", `/api/v1/devices/${encodeURIComponent(id)}/rotate`));
  if (answer) showSecrets([["token", answer.token]]);
}

async function sipCredentials(id) {
  const answer = await run(() => gw.api("POST", `/api/v1/devices/${encodeURIComponent(id)}/sip-credentials`));
  if (answer) showSecrets([["sip_username", answer.sip_username], ["sip_password", answer.sip_password], ["realm", answer.realm]]);
}

async function revoke(id) {
  if (await run(() => gw.api("POST", `/api/v1/devices/${encodeURIComponent(id)}/revoke`)) !== undefined) {
    say(`${gw.t("revoked")}: ${id}`);
    await reload("devices");
  }
}

// ---- page shell: tabs follow the address's #fragment ---------------------------------------

function current() {
  const name = location.hash.slice(1);
  return name in SECTIONS ? name : "instructions";
}

// Fetches and draws a section again; a message just shown stays.
async function reload(name) {
  const section = SECTIONS[name];
  try {
    await section.load();
    section.render();
  } catch (err) {
    gw.showError(err.message);
  }
}

async function show(name) {
  document.querySelectorAll("#tabs a").forEach((a) => {
    if (a.hash === `#${name}`) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== name; });
  gw.showError("");
  say("");
  await reload(name);
}

function renderLoaded() {
  for (const [name, section] of Object.entries(SECTIONS)) if (loaded[name]) section.render();
}

// Scope inputs and alarm-type boxes are made here, once, so every form spells them the same.
function buildFields() {
  document.querySelectorAll("fieldset.scope").forEach((set) => {
    const fields = (set.dataset.fields || SCOPE.join(" ")).split(" ");
    set.append(...fields.map((name) => gw.el("label", {},
      gw.el("span", { "data-i18n": name }, gw.t(name)), " ", gw.el("input", { name, maxlength: "64" }))));
  });
  document.querySelectorAll("fieldset.types").forEach((set) => {
    set.append(...gw.ALARM_TYPES.map((type) => gw.el("label", { class: "check" },
      gw.el("input", { type: "checkbox", name: "alarm_types", value: type, "data-type": "set" }), " ",
      gw.el("span", { "data-type-name": type }, gw.typeName(type)))));
  });
}

function translateTypes() {
  document.querySelectorAll("[data-type-name]").forEach((el) => { el.textContent = gw.typeName(el.dataset.typeName); });
}

document.addEventListener("DOMContentLoaded", () => {
  buildFields();
  gw.setupLanguage(() => { translateTypes(); renderLoaded(); });
  $("logout").addEventListener("click", () => gw.logout());
  $("secret").addEventListener("close", () => $("secret-values").replaceChildren());
  for (const [name, section] of Object.entries(SECTIONS)) {
    const form = document.querySelector(`#${name} form.entry`);
    form?.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const message = await run(() => section.submit(form, ev.submitter));
      if (message !== undefined) {
        say(message ?? gw.t("saved"));
        await reload(name);
      }
    });
  }
  for (const id of ["agent-form", "user-form"]) {
    $(id).addEventListener("reset", (ev) => {
      delete ev.target.dataset.editing;
      for (const el of ev.target.elements) { el.readOnly = false; el.disabled = false; }
    });
  }
  $("personal-close").addEventListener("click", closePersonal);
  $("verify").addEventListener("click", async () => {
    const result = await run(() => gw.api("GET", "/api/v1/audit/verify"));
    if (result) { loaded.audit = result; SECTIONS.audit.render(); }
  });
  $("device-token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = ev.target.elements.namedItem("device").value.trim();
    if (ev.submitter.value === "rotate") rotate(id);
    else if (confirmed(ev.submitter, "revoke")) revoke(id);
  });
  window.addEventListener("hashchange", () => show(current()));
  show(current());
});
