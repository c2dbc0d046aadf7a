// Moves a payout run's progress bar: polls the status endpoint every second while the run is
// queued or running, and reloads the page when it has finished (to show the payouts and the
// skipped contractors). Without JavaScript the page shows the state as of its last load.
(function () {
  "use strict";
  var root = document.getElementById("run-progress");
  if (!root) return;
  var status = root.getAttribute("data-status");
  if (status !== "queued" && status !== "running") return;
  var url = root.getAttribute("data-status-url");
  var bar = document.getElementById("run-bar");
  var text = document.getElementById("run-progress-text");
  var badge = document.getElementById("run-status-text");
  var template = root.getAttribute("data-text") || "{percent}%";
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
        badge.className = "badge payout-run-" + data.status;
        text.textContent = template
          .replace("{percent}", data.percent)
          .replace("{handled}", data.handled)
          .replace("{planned}", data.planned);
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  };
  timer = setInterval(poll, 1000);
})();
