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
    sessionStorage.setItem("gw_role", role);  // which links to show; the server decides access
    const next = new URLSearchParams(location.search).get("next");
    const safe = ["/console", "/review", "/admin"].includes(next) ? next : null;
    location.href = safe || { operator: "/console", supervisor: "/review" }[role] || "/admin";
  });
});
