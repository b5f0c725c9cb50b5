"use strict";
document.addEventListener("DOMContentLoaded", () => {
  gw.setupLanguage();
  document.getElementById("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const resp = await fetch("/api/v1/sessions", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: ev.target.name.value, password: ev.target.password.value }),
    });
    if (!resp.ok) { gw.showError(gw.t("login_failed")); return; }
    const { role } = await resp.json();
    const next = new URLSearchParams(location.search).get("next");
    const safe = next === "/console" || next === "/review" ? next : null;
    location.href = safe || (role === "operator" ? "/console" : "/review");
  });
});
