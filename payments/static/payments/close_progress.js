// Moves the close's progress bar: polls the run's status every second while it runs, and
// reloads the page once it has finished (to show the exceptions and the ledger). Without
// JavaScript the page still shows the state as of its last load.
(function () {
  "use strict";
  var root = document.getElementById("close-progress");
  if (!root || root.getAttribute("data-status") !== "running") return;
  var url = root.getAttribute("data-status-url");
  var bar = document.getElementById("close-bar");
  var text = document.getElementById("close-progress-text");
  var badge = document.getElementById("close-status-text");
  var template = root.getAttribute("data-text") || "{percent}%";
  var formatter = new Intl.NumberFormat(document.documentElement.lang || undefined);
  var timer = null;
  var poll = function () {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        if (data.is_finished) {
          clearInterval(timer);
          window.location.reload();
          return;
        }
        bar.value = data.percent;
        bar.textContent = data.percent + "%";
        badge.textContent = data.status_display;
        badge.className = "badge close-run-" + data.status;
        text.textContent = template
          .replace("{percent}", data.percent)
          .replace("{done}", formatter.format(data.done))
          .replace("{total}", formatter.format(data.total))
          .replace("{entries}", formatter.format(data.entries_posted));
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  };
  timer = setInterval(poll, 1000);
})();
