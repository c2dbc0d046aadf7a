// Moves a report's progress bar until it is made; the page works without it (reload).
(function () {
  "use strict";
  var box = document.getElementById("report-progress");
  if (!box) return;
  var status = box.dataset.status;
  if (status !== "pending" && status !== "running") return;
  var bar = document.getElementById("report-bar");
  var text = document.getElementById("report-progress-text");
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        bar.value = data.progress;
        text.textContent = data.progress + "%";
        if (data.status === "pending" || data.status === "running") {
          window.setTimeout(poll, 1500);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
