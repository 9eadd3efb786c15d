// The Activity Log page's enhancements. The page works without them (forms and links);
// URLs come from data-* attributes and the page itself, never from inline script.
"use strict";
(function () {
  const main = document.getElementById("activity-log");
  if (!main) return;

  // Date buckets follow the browser's time zone: ask for it once, keep it in the URL.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const here = new URL(window.location.href);
  if (zone && zone !== "UTC" && !here.searchParams.has("tz") && !main.dataset.tzExplicit &&
      !document.getElementById("al-error")) {
    here.searchParams.set("tz", zone);
    window.location.replace(here.toString());
    return;
  }

  // A picture that cannot load leaves the initials under it visible.
  const dropBroken = (img) => { if (img.complete && img.naturalWidth === 0) img.remove(); };
  document.querySelectorAll("img.al-photo").forEach(dropBroken);
  document.addEventListener("error", (event) => {
    if (event.target.classList && event.target.classList.contains("al-photo")) event.target.remove();
  }, true);

  const live = document.getElementById("al-live");
  const say = (text) => { if (live) live.textContent = text; };

  // Integrity badge: verified on demand, after the page is shown.
  const badge = document.getElementById("al-integrity");
  if (badge && badge.dataset.url) {
    badge.textContent = "Checking integrity…";
    fetch(badge.dataset.url, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((data) => {
        badge.textContent = data.text || data.detail || "Integrity unknown";
        badge.classList.add(data.ok === true ? "ok" : data.ok === false ? "bad" : "none");
      })
      .catch(() => { badge.textContent = "Integrity not checked"; });
  }

  // Load more: fetch the next page (the same server-rendered HTML) and append its rows.
  const rowsOf = () => document.getElementById("al-rows");
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("#al-more");
    if (!link) return;
    event.preventDefault();
    link.setAttribute("aria-busy", "true");
    fetch(link.href, { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then((text) => {
        const doc = new DOMParser().parseFromString(text, "text/html");
        const incoming = doc.querySelectorAll("#al-rows > tr");
        const body = rowsOf();
        const firstNew = body.rows.length;
        incoming.forEach((row) => body.appendChild(document.importNode(row, true)));
        const pager = document.getElementById("al-pager");
        const next = doc.getElementById("al-pager");
        if (next) pager.replaceWith(document.importNode(next, true)); else pager.remove();
        say(incoming.length + " more entries loaded" + (next ? "" : "; that is all of them"));
        // Keyboard users continue from the first new row.
        if (body.rows[firstNew]) body.rows[firstNew].focus();
      })
      .catch(() => { link.removeAttribute("aria-busy"); say("Could not load more entries"); });
  });

  // Keyboard: "/" searches, j/k or arrows move between rows, Enter opens a record's history.
  const search = document.getElementById("al-q");
  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    const typing = tag === "input" || tag === "textarea" || tag === "select";
    if (event.key === "/" && !typing && search) {
      event.preventDefault();
      search.focus();
      search.select();
      return;
    }
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    // Filter links act as toggle buttons, and buttons answer the space bar too.
    if (event.key === " " && event.target.matches && event.target.matches("a[role=button]")) {
      event.preventDefault();
      event.target.click();
      return;
    }
    const body = rowsOf();
    if (!body) return;
    const rows = Array.from(body.rows);
    const current = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("tr.al-row") : null;
    const index = current ? rows.indexOf(current) : -1;
    let target = null;
    if (event.key === "j" || event.key === "ArrowDown") target = rows[Math.min(index + 1, rows.length - 1)];
    else if (event.key === "k" || event.key === "ArrowUp") target = rows[Math.max(index - 1, 0)];
    else if (event.key === "Enter" && current && document.activeElement === current) {
      const history = current.querySelector(".al-history") || current.querySelector(".al-actor");
      if (history) { event.preventDefault(); history.click(); }
      return;
    }
    if (target) { event.preventDefault(); target.focus(); }
  });

  // Close the category menu with Escape, returning focus to its button.
  const menu = document.getElementById("al-category");
  if (menu) {
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.open) { menu.open = false; menu.querySelector("summary").focus(); }
    });
  }
})();
