// Moves the progress bar of a long job (an import, a close, a payout run, a report) while it
// runs, and reloads the page once the job has finished, to show its result. Without
// JavaScript the page shows the state as of its last load.
//
// The page marks the box with data-progress and says, in data attributes:
//   data-status-url  the job's JSON status: percent (or progress), status, and optionally
//                    status_display, is_finished and the fields the text names
//   data-status      the status when the page was made; data-live the statuses still moving
//   data-bar, data-label, data-badge   ids of the <progress>, its text, the status badge
//   data-badge-class the badge's class before the status, e.g. "badge import-"
//   data-text        the text, with {field} for each status field, e.g. "{percent}% · {rows_done} rows"
(function () {
  "use strict";
  var format = new Intl.NumberFormat(document.documentElement.lang || undefined);
  var track = function (box) {
    var live = (box.getAttribute("data-live") || "running").split(" ");
    if (live.indexOf(box.getAttribute("data-status")) < 0) return;
    var url = box.getAttribute("data-status-url");
    var bar = document.getElementById(box.getAttribute("data-bar"));
    var label = document.getElementById(box.getAttribute("data-label"));
    var badge = document.getElementById(box.getAttribute("data-badge") || "");
    var template = box.getAttribute("data-text") || "{percent}%";
    var timer = null;
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var finished = data.is_finished !== undefined ? data.is_finished : live.indexOf(data.status) < 0;
          if (finished) {
            clearInterval(timer);
            window.location.reload();
            return;
          }
          var percent = data.percent !== undefined ? data.percent : data.progress;
          bar.value = percent;
          bar.textContent = percent + "%";
          if (badge && data.status_display) {
            badge.textContent = data.status_display;
            badge.className = (box.getAttribute("data-badge-class") || "badge ") + data.status;
          }
          label.textContent = template.replace(/\{(\w+)\}/g, function (whole, name) {
            var value = name === "percent" ? percent : data[name];
            if (value === undefined || value === null) return whole;
            return typeof value === "number" && name !== "percent" ? format.format(value) : String(value);
          });
        })
        .catch(function () { /* offline for a moment: the next poll tries again */ });
    };
    timer = setInterval(poll, 1000);
  };
  Array.prototype.forEach.call(document.querySelectorAll("[data-progress]"), track);
})();
