{% load dashboard_tags %}/* Live refresh of the dashboard.
 * Listens to the server-sent event stream (the session cookie authenticates it) and, after a
 * burst of events, re-fetches the page content once and swaps it in. The 7/30/90-day switch
 * fetches the same content without a full reload. Without JavaScript the page still works:
 * the switch links are plain links. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard-content");
  if (!root) { return; }
  var contentUrl = root.getAttribute("data-content-url");
  var eventsUrl = root.getAttribute("data-events-url");
  var badge = document.getElementById("live-status");
  var days = root.getAttribute("data-days");
  var DEBOUNCE_MS = 600;     // one webhook publishes 3 events: refresh once for all of them
  var FALLBACK_MS = 60000;   // refresh now and then even when no event arrives
  var timer = null;
  var loading = false;
  var again = false;

  function setBadge(state, text) {
    if (!badge) { return; }
    badge.className = "live " + state;
    badge.querySelector(".live-text").textContent = text;
  }

  function refresh() {
    timer = null;
    if (loading) { again = true; return; }
    loading = true;
    root.classList.add("refreshing");
    fetch(contentUrl + "?days=" + encodeURIComponent(days), {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
      cache: "no-store"
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        window.location.reload();  // session gone: the page redirects to the login form
        return null;
      }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    }).then(function (html) {
      if (html !== null) {
        root.innerHTML = html;
        root.setAttribute("data-days", days);
      }
    }).catch(function () {
      setBadge("offline", "{% zh _("Refresh failed") %} Refresh failed");
    }).then(function () {
      loading = false;
      root.classList.remove("refreshing");
      if (again) { again = false; schedule(); }
    });
  }

  function schedule() {
    if (timer === null) { timer = window.setTimeout(refresh, DEBOUNCE_MS); }
  }

  root.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-days]");
    if (!link) { return; }
    event.preventDefault();
    days = link.getAttribute("data-days");
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "?days=" + encodeURIComponent(days));
    }
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    refresh();
  });

  if (window.EventSource && eventsUrl) {
    var source = new EventSource(eventsUrl);
    source.addEventListener("open", function () { setBadge("online", "{% zh _("Live") %} Live"); });
    source.addEventListener("error", function () {
      // EventSource reconnects by itself; say so meanwhile.
      setBadge(source.readyState === 2 ? "offline" : "connecting", source.readyState === 2 ? "{% zh _("Offline") %} Offline" : "{% zh _("Reconnecting") %} Reconnecting");
    });
    ["log_created", "account_updated", "task_updated", "alert", "queue_updated"].forEach(function (name) {
      source.addEventListener(name, schedule);
    });
  } else {
    setBadge("offline", "{% zh _("No live updates") %} No live updates");
  }
  window.setInterval(schedule, FALLBACK_MS);
})();
