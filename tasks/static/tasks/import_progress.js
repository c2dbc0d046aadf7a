// Moves the import progress bar: polls the status endpoint every second while the import is
// waiting or running, and reloads the page once it has finished (to show the result or the
// table of problems). Without JavaScript the page still shows the state as of its last load.
(function () {
  "use strict";
  var root = document.getElementById("import-progress");
  if (!root) return;
  var status = root.getAttribute("data-status");
  if (status !== "pending" && status !== "running") return;
  var url = root.getAttribute("data-status-url");
  var bar = document.getElementById("import-bar");
  var text = document.getElementById("import-progress-text");
  var badge = document.getElementById("import-status-text");
  var template = root.getAttribute("data-text") || "{percent}% · {rows}";
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
        badge.className = "badge import-" + data.status;
        text.textContent = template.replace("{percent}", data.percent).replace("{rows}", formatter.format(data.rows_done));
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  };
  timer = setInterval(poll, 1000);
})();
