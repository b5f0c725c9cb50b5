// Shared by every console page: translations, API calls with the CSRF header, formatting.
"use strict";

const STRINGS = {
  en: {
    title: "Alarm gateway", login: "Log in", name: "Name", password: "Password",
    login_failed: "Wrong name or password.", logout: "Log out", language: "Language",
    queue: "Open alarms", no_alarms: "No open alarm.", new_alarm: "New alarm", accept: "Accept", open: "Open",
    target_accept: "Accept within 10 s", overdue: "overdue", waiting: "waiting",
    handled_by: "Handled by", alarm: "Alarm", select_alarm: "Select an alarm in the queue.",
    device: "Device", type: "Type", state: "State", received: "Received", battery: "Battery",
    position: "Position", accuracy: "accuracy", open_map: "Open map", no_position: "No position.",
    timeline: "Timeline", audio: "Audio", listen: "Listen", hangup: "Hang up",
    talk: "Talk to the agent", talk_confirm: "Click again to talk",
    discreet_warning: "Discreet alarm: listen first; speaking could put the agent in danger.",
    talking: "Talking: the agent hears you",
    listening: "Listening silently", not_connected: "Not connected",
    callback: "Call the phone back", callback_hint: "Call the phone with auto-answer; the timeline shows the result", callback_started: "Calling the phone back…",
    doubt: "Doubt removal", false_alarm: "False alarm", agent_safe: "Agent safe",
    emergency_confirmed: "Emergency confirmed", dispatch: "Dispatch emergency services",
    police: "Police (17)", samu: "SAMU (15)", fire: "Fire brigade (18)", e112: "European emergency (112)",
    reference: "Reference number", send: "Record", escalate_manager: "Escalate to the manager",
    note: "Note", add_note: "Add note", close: "Close the alarm", outcome: "Outcome", comment: "Comment",
    release: "Release to the queue", transcript: "Transcript and cues",
    no_transcript: "Nothing transcribed yet.", review: "Review", console: "Console",
    from: "From", to: "To", tz: "Time zone", search: "Search", any: "Any", group: "Group by",
    export_csv: "Export CSV", figures: "Figures", alarms: "Alarms",
    accept_p50: "Time to accept (median)", accept_p90: "Time to accept (90th pct.)",
    within10: "Accepted within 10 s", within40: "Accepted within 40 s",
    doubt_p50: "Time to doubt removal (median)", doubt_p90: "Time to doubt removal (90th pct.)",
    false_rate: "False-alarm rate", outcomes: "Outcomes", accepted_by: "Accepted by",
    accept_s: "Accept (s)", doubt_s: "Doubt removed (s)", listeners: "Listened",
    target: "target", day: "Day", week: "Week", month: "Month", period: "Period",
    connection_lost: "Live connection lost; reconnecting…", error: "Error",
    dc09_down: "Link to the monitoring centre's receiver lost", offered_to_you: "offered to you",
    alert_supervisor: "Supervisor needed", alert_no_response: "No-response procedure",
    dismiss: "Dismiss", assessment: "Assessment", recordings: "Recordings", no_recordings: "No recording.",
    briefing: "Instructions and contacts", agent: "Agent", no_instructions: "No safety instruction for this alarm.",
    no_contacts: "No escalation contact.", available: "available now", unavailable: "off duty now",
    colon: ": ", admin: "Admin", actions: "Actions", nothing_yet: "Nothing yet.", confirm: "Click again to confirm",
    add: "Add", save: "Save", new: "New", delete: "Delete", saved: "Saved.", copy: "Copy", copied: "Copied",
    instructions: "Safety instructions", instructions_hint: "Shown to the operator on the alarm card, most specific first.",
    text: "Text", scope: "Applies to (empty: everyone)", alarm_types: "Alarm types (none ticked: all)", all_types: "all types",
    tenant: "Organisation", site: "Site", agent_group: "Team", device_id: "Device",
    contacts: "Escalation contacts", contacts_hint: "Whom the operator calls beyond the emergency services; those on duty now come first, then by scope and rank.",
    contact_role: "Role", phone: "Phone", sip_uri: "SIP address", webhook_url: "Webhook", reach: "Reach",
    hours: "Hours (one window a line)", always: "always", zone: "Time zone", rank: "Rank",
    devices: "Devices", label: "Label", placement: "Organisation, site, team", register: "Register",
    rotate: "New token", revoke: "Revoke", revoked: "Revoked", active: "active", sip_credentials: "New SIP password",
    revoke_hint: "A revoked device's alarms and calls are refused at once; register it again to bring it back.",
    token: "Device token", sip_username: "SIP user name", sip_password: "SIP password",
    secret_title: "Copy these now", secret_close: "I have copied them",
    secret_warning: "Shown only this once: the gateway keeps no readable copy. Copy them into the device before closing.",
    agents: "Agents", agent_id: "Agent identifier", safety_notes: "Safety notes", personal_data: "Personal data",
    erase: "Erase personal data", download_json: "Download JSON", close_panel: "Close", edit: "Edit", erased: "Personal data erased; alarms kept as anonymous statistics.",
    import: "Import agents", import_hint: "A CSV file, one agent a line. Validate first: nothing is written until you import.",
    import_columns: "Columns (the first three required):", csv_file: "CSV file", import_partial: "Import the good rows anyway", validate: "Validate", import_run: "Import",
    line: "Line", column: "Column", reason: "Reason", rows_ok: "Valid rows", rows_bad: "Rows with errors",
    imported: "Imported", skipped: "Skipped", import_nothing: "Nothing imported: correct the rows below, or tick “Import the good rows anyway”.",
    tenants: "Organisations", licences: "Licences (empty: no limit)", used: "Devices in use", pilot: "Pilot (alarms are not forwarded)",
    users: "Staff accounts", role: "Role", user_tenants: "Organisations (one a line; empty: all)",
    disable: "Disable", disabled: "disabled", set_tenants: "Set organisations",
    audit: "Audit log", audit_hint: "Every back office change, chained so that an edited or removed entry shows.",
    export_json: "Export JSON", verify: "Check the chain", chain_ok: "The chain is intact", chain_broken: "The chain is broken",
    applies_to: "Applies to", types_column: "Alarm types", hours_column: "Hours", realm: "SIP realm",
    all_credentials: "All, as CSV", created: "created", updated: "updated", unchanged: "unchanged", rows: "Rows",
    validated: "Checked; nothing written.", yes: "yes", no: "no", pilot_column: "Pilot", dc09_account: "DC-09 account",
    register_hint: "The device takes its agent's organisation (one licence), site and team.",
    operator: "Operator", supervisor: "Supervisor", admin_role: "Admin", centre_wide: "all (centre-wide)",
    entries: "Entries", last_hash: "Last hash (note it)", entry: "Entry", fault: "Fault",
    levels: { agent: "agent", group: "group", site: "site", tenant: "organisation", all: "everyone" },
    types: { sos: "SOS", discreet: "Discreet alarm", fall: "Fall", verticality: "Loss of verticality",
      no_movement: "No movement", tear_off: "Tear-off", missed_check_in: "Missed check-in",
      link_lost: "Link lost", low_battery: "Low battery", test: "Test" },
    states: { received: "received", offered: "offered", accepted: "accepted", escalated: "escalated", closed: "closed" },
    outcome_names: { false_alarm: "False alarm", agent_safe: "Agent safe",
      intervention_dispatched: "Intervention dispatched", cancelled_by_agent: "Cancelled by the agent",
      no_response: "No response", test_completed: "Test completed" },
    kinds: { raised: "raised", offered: "offered", accepted: "accepted", released: "released",
      escalated: "escalated", closed: "closed", location_updated: "position update",
      voice_connected: "voice connected", voice_lost: "voice lost", cancelled_by_agent: "cancelled by the agent",
      note: "note", audio: "audio", doubt_removed: "doubt removed", transcribed: "transcript",
      cue_heard: "cue heard", assessed: "assessment", listen_started: "started listening",
      listen_ended: "stopped listening", "audio.mode": "audio mode", callback: "call back" },
  },
  fr: {
    title: "Passerelle d'alarmes", login: "Se connecter", name: "Nom", password: "Mot de passe",
    login_failed: "Nom ou mot de passe incorrect.", logout: "Se déconnecter", language: "Langue",
    queue: "Alarmes en cours", no_alarms: "Aucune alarme en cours.", new_alarm: "Nouvelle alarme", accept: "Prendre", open: "Ouvrir",
    target_accept: "Prise en charge sous 10 s", overdue: "en retard", waiting: "en attente",
    handled_by: "Prise par", alarm: "Alarme", select_alarm: "Choisissez une alarme dans la file.",
    device: "Terminal", type: "Type", state: "État", received: "Reçue", battery: "Batterie",
    position: "Position", accuracy: "précision", open_map: "Ouvrir la carte", no_position: "Pas de position.",
    timeline: "Historique", audio: "Audio", listen: "Écouter", hangup: "Raccrocher",
    talk: "Parler au travailleur", talk_confirm: "Cliquez encore pour parler",
    discreet_warning: "Alarme discrète : écoutez d'abord ; parler pourrait mettre le travailleur en danger.",
    talking: "En phonie : le travailleur vous entend",
    listening: "Écoute discrète", not_connected: "Non connecté",
    callback: "Rappeler le téléphone", callback_hint: "Appeler le téléphone en décroché automatique ; l'historique montre le résultat", callback_started: "Rappel du téléphone en cours…",
    doubt: "Levée de doute", false_alarm: "Fausse alerte", agent_safe: "Travailleur en sécurité",
    emergency_confirmed: "Urgence confirmée", dispatch: "Engager les secours",
    police: "Police (17)", samu: "SAMU (15)", fire: "Pompiers (18)", e112: "Urgence européenne (112)",
    reference: "Numéro de référence", send: "Enregistrer", escalate_manager: "Escalader au responsable",
    note: "Note", add_note: "Ajouter la note", close: "Clôturer l'alarme", outcome: "Issue", comment: "Commentaire",
    release: "Remettre en file", transcript: "Transcription et indices",
    no_transcript: "Rien de transcrit pour l'instant.", review: "Supervision", console: "Console",
    from: "Du", to: "Au", tz: "Fuseau horaire", search: "Rechercher", any: "Tous", group: "Regrouper par",
    export_csv: "Exporter en CSV", figures: "Indicateurs", alarms: "Alarmes",
    accept_p50: "Délai de prise en charge (médiane)", accept_p90: "Délai de prise en charge (90e centile)",
    within10: "Prises en charge sous 10 s", within40: "Prises en charge sous 40 s",
    doubt_p50: "Délai de levée de doute (médiane)", doubt_p90: "Délai de levée de doute (90e centile)",
    false_rate: "Taux de fausses alertes", outcomes: "Issues", accepted_by: "Prise par",
    accept_s: "Prise (s)", doubt_s: "Levée de doute (s)", listeners: "Écoutée par",
    target: "objectif", day: "Jour", week: "Semaine", month: "Mois", period: "Période",
    connection_lost: "Connexion temps réel perdue ; reconnexion…", error: "Erreur",
    dc09_down: "Liaison avec le récepteur du centre de télésurveillance perdue", offered_to_you: "vous est présentée",
    alert_supervisor: "Superviseur requis", alert_no_response: "Procédure d'absence de réponse",
    dismiss: "Fermer", assessment: "Évaluation", recordings: "Enregistrements", no_recordings: "Aucun enregistrement.",
    briefing: "Consignes et contacts", agent: "Travailleur", no_instructions: "Aucune consigne pour cette alarme.",
    no_contacts: "Aucun contact d'escalade.", available: "joignable maintenant", unavailable: "hors horaires",
    colon: " : ", admin: "Administration", actions: "Actions", nothing_yet: "Rien pour l'instant.", confirm: "Cliquez encore pour confirmer",
    add: "Ajouter", save: "Enregistrer", new: "Nouveau", delete: "Supprimer", saved: "Enregistré.", copy: "Copier", copied: "Copié",
    instructions: "Consignes de sécurité", instructions_hint: "Affichées à l'opérateur sur la fiche d'alarme, les plus précises d'abord.",
    text: "Texte", scope: "S'applique à (vide : tous)", alarm_types: "Types d'alarme (aucun coché : tous)", all_types: "tous types",
    tenant: "Organisation", site: "Site", agent_group: "Équipe", device_id: "Terminal",
    contacts: "Contacts d'escalade", contacts_hint: "Qui l'opérateur appelle en plus des secours ; d'abord ceux joignables maintenant, puis par portée et rang.",
    contact_role: "Fonction", phone: "Téléphone", sip_uri: "Adresse SIP", webhook_url: "Webhook", reach: "Joindre",
    hours: "Horaires (une plage par ligne)", always: "toujours", zone: "Fuseau horaire", rank: "Rang",
    devices: "Terminaux", label: "Libellé", placement: "Organisation, site, équipe", register: "Enregistrer le terminal",
    rotate: "Nouveau jeton", revoke: "Révoquer", revoked: "Révoqué", active: "actif", sip_credentials: "Nouveau mot de passe SIP",
    revoke_hint: "Les alarmes et appels d'un terminal révoqué sont refusés aussitôt ; enregistrez-le à nouveau pour le rétablir.",
    token: "Jeton du terminal", sip_username: "Identifiant SIP", sip_password: "Mot de passe SIP",
    secret_title: "Copiez-les maintenant", secret_close: "Je les ai copiés",
    secret_warning: "Affichés cette seule fois : la passerelle n'en garde aucune copie lisible. Copiez-les dans le terminal avant de fermer.",
    agents: "Travailleurs", agent_id: "Identifiant du travailleur", safety_notes: "Notes de sécurité", personal_data: "Données personnelles",
    erase: "Effacer les données personnelles", download_json: "Télécharger en JSON", close_panel: "Fermer", edit: "Modifier", erased: "Données personnelles effacées ; alarmes gardées en statistiques anonymes.",
    import: "Importer des travailleurs", import_hint: "Un fichier CSV, un travailleur par ligne. Validez d'abord : rien n'est écrit avant l'import.",
    import_columns: "Colonnes (les trois premières obligatoires) :", csv_file: "Fichier CSV", import_partial: "Importer quand même les lignes correctes", validate: "Valider", import_run: "Importer",
    line: "Ligne", column: "Colonne", reason: "Motif", rows_ok: "Lignes valides", rows_bad: "Lignes en erreur",
    imported: "Importées", skipped: "Ignorées", import_nothing: "Rien n'a été importé : corrigez les lignes ci-dessous, ou cochez « Importer quand même les lignes correctes ».",
    tenants: "Organisations", licences: "Licences (vide : sans limite)", used: "Terminaux utilisés", pilot: "Pilote (alarmes non transmises)",
    users: "Comptes du personnel", role: "Rôle", user_tenants: "Organisations (une par ligne ; vide : toutes)",
    disable: "Désactiver", disabled: "désactivé", set_tenants: "Changer les organisations",
    audit: "Journal d'audit", audit_hint: "Chaque modification du back-office, chaînée pour qu'une entrée modifiée ou supprimée se voie.",
    export_json: "Exporter en JSON", verify: "Vérifier la chaîne", chain_ok: "La chaîne est intacte", chain_broken: "La chaîne est rompue",
    applies_to: "S'applique à", types_column: "Types d'alarme", hours_column: "Horaires", realm: "Domaine SIP",
    all_credentials: "Tous, en CSV", created: "créés", updated: "modifiés", unchanged: "inchangés", rows: "Lignes",
    validated: "Vérifié ; rien n'a été écrit.", yes: "oui", no: "non", pilot_column: "Pilote", dc09_account: "Compte DC-09",
    register_hint: "Le terminal prend l'organisation (une licence), le site et l'équipe de son travailleur.",
    operator: "Opérateur", supervisor: "Superviseur", admin_role: "Administrateur", centre_wide: "toutes (tout le centre)",
    entries: "Entrées", last_hash: "Dernière empreinte (notez-la)", entry: "Entrée", fault: "Anomalie",
    levels: { agent: "travailleur", group: "équipe", site: "site", tenant: "organisation", all: "tous" },
    types: { sos: "SOS", discreet: "Alarme discrète", fall: "Chute", verticality: "Perte de verticalité",
      no_movement: "Absence de mouvement", tear_off: "Arrachement", missed_check_in: "Pointage manqué",
      link_lost: "Perte de liaison", low_battery: "Batterie faible", test: "Test" },
    states: { received: "reçue", offered: "présentée", accepted: "prise", escalated: "escaladée", closed: "clôturée" },
    outcome_names: { false_alarm: "Fausse alerte", agent_safe: "Travailleur en sécurité",
      intervention_dispatched: "Intervention engagée", cancelled_by_agent: "Annulée par le travailleur",
      no_response: "Pas de réponse", test_completed: "Test effectué" },
    kinds: { raised: "déclenchée", offered: "présentée", accepted: "prise", released: "remise en file",
      escalated: "escaladée", closed: "clôturée", location_updated: "nouvelle position",
      voice_connected: "phonie établie", voice_lost: "phonie perdue", cancelled_by_agent: "annulée par le travailleur",
      note: "note", audio: "audio", doubt_removed: "levée de doute", transcribed: "transcription",
      cue_heard: "indice entendu", assessed: "évaluation", listen_started: "début d'écoute",
      listen_ended: "fin d'écoute", "audio.mode": "mode audio", callback: "rappel" },
  },
};

const gw = {
  ALARM_TYPES: ["sos", "discreet", "fall", "verticality", "no_movement", "tear_off",
    "missed_check_in", "link_lost", "low_battery", "test"],
  lang: localStorage.getItem("gw_lang") ||
    ((navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en"),
  serverOffsetMs: 0,

  t(key) { return STRINGS[gw.lang][key] ?? STRINGS.en[key] ?? key; },
  typeName(v) { return gw.t("types")[v] || v; },
  stateName(v) { return gw.t("states")[v] || v; },
  outcomeName(v) { return gw.t("outcome_names")[v] || v; },

  translate(root = document) {
    document.documentElement.lang = gw.lang;
    root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = gw.t(el.dataset.i18n); });
    root.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = gw.t(el.dataset.i18nTitle); });
    root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = gw.t(el.dataset.i18nPlaceholder); });
    root.querySelectorAll("[data-i18n-label]").forEach((el) => { el.setAttribute("aria-label", gw.t(el.dataset.i18nLabel)); });
  },

  setupLanguage(onChange) {
    const select = document.getElementById("lang");
    if (!select) return;
    select.value = gw.lang;
    select.addEventListener("change", () => {
      gw.lang = select.value;
      localStorage.setItem("gw_lang", gw.lang);
      gw.translate();
      if (onChange) onChange();
    });
    gw.translate();
  },

  csrf() {
    const m = document.cookie.match(/(?:^|;\s*)gw_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  },

  // A JSON body by default; another content type sends ``body`` as it is (e.g. CSV text).
  // A refusal throws an Error whose ``status`` and ``data`` hold the answer.
  async api(method, path, body, contentType = "application/json") {
    const headers = { "X-CSRF-Token": gw.csrf() };
    if (body !== undefined) headers["Content-Type"] = contentType;
    const json = contentType === "application/json";
    const resp = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : json ? JSON.stringify(body) : body,
    });
    const date = Date.parse(resp.headers.get("Date") || "");
    if (!Number.isNaN(date)) gw.serverOffsetMs = date - Date.now();
    if (resp.status === 401) { location.href = "/?next=" + encodeURIComponent(location.pathname); throw new Error("login"); }
    if (resp.status === 204) return null;
    const data = await resp.json();
    if (!resp.ok) {
      throw Object.assign(new Error(data.error ? data.error.message : resp.statusText), { status: resp.status, data });
    }
    return data;
  },

  now() { return Date.now() + gw.serverOffsetMs; },

  time(iso) {
    return iso ? new Date(iso).toLocaleString(gw.lang === "fr" ? "fr-FR" : "en-GB") : "";
  },

  // One timeline entry as a list item: time, who, what, and the details that matter.
  entryItem(e) {
    const kinds = gw.t("kinds");
    const data = { ...e.data };
    let what = kinds[e.kind] || e.kind;
    if (e.kind === "noted" && data.kind) {
      what = kinds[data.kind] || data.kind;
      if (data.kind === "doubt_removed") data.text = data.text.replace(/^\w+/, (verdict) => gw.t(verdict));
      delete data.kind;
    }
    delete data.operator;
    if (data.outcome) data.outcome = gw.outcomeName(data.outcome);
    if (data.alarm_type) data.alarm_type = gw.typeName(data.alarm_type);
    if (data.position) {
      const p = data.position;
      data.position = `${p.lat}, ${p.lon}` + (p.accuracy_m === undefined ? "" : ` ±${p.accuracy_m} m`);
    }
    const details = Object.entries(data).map(([k, v]) => k === "text" ? v : `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
    return gw.el("li", { "data-kind": e.data.kind || e.kind },
      gw.el("time", { datetime: e.at }, gw.time(e.at)), " ", gw.el("strong", {}, e.actor), " ",
      gw.el("span", { class: "kind" }, what),
      details.length ? gw.el("span", { class: "details" }, " – " + details.join(" · ")) : null);
  },

  seconds(v) { return v === null || v === undefined ? "–" : `${v.toFixed(1)} s`; },
  share(v) { return v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)} %`; },

  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    }
    return node;
  },

  async logout() {
    await fetch("/api/v1/sessions/current", { method: "DELETE", credentials: "same-origin" });
    location.href = "/";
  },

  showError(message) {
    const box = document.getElementById("error");
    if (!box) return;
    box.textContent = message ? `${gw.t("error")}: ${message}` : "";
    box.hidden = !message;
  },
};

window.gw = gw;
