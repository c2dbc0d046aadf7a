// Heartbeats while the page is visible (Page Visibility API); the server turns them into paid
// active time. Number keys pick a choice, Enter submits: the whole task works from the keyboard.
(function () {
  "use strict";
  var root = document.querySelector("[data-heartbeat-kind]");
  if (root) {
    var kind = root.getAttribute("data-heartbeat-kind");
    var id = parseInt(root.getAttribute("data-heartbeat-id"), 10);
    var url = root.getAttribute("data-heartbeat-url");
    var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value;
    var shown = document.getElementById("active-time");
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    // "45 s", "3 min 07 s", "1 h 02 min": the live counter of the time credited so far.
    var format = function (seconds) {
      if (seconds < 60) return seconds + " s";
      if (seconds < 3600) return Math.floor(seconds / 60) + " min " + pad(seconds % 60) + " s";
      return Math.floor(seconds / 3600) + " h " + pad(Math.floor(seconds % 3600 / 60)) + " min";
    };
    var beat = function () {
      if (document.visibilityState !== "visible") return;
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ kind: kind, id: id })
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (data && shown) {
          shown.textContent = format(data.active_seconds);
        }
      }).catch(function () { /* offline: the next beat tries again */ });
    };
    var interval = parseInt(root.getAttribute("data-heartbeat-seconds") || "15", 10) * 1000;
    beat();
    setInterval(beat, interval);
    document.addEventListener("visibilitychange", beat);
  }
  var form = document.getElementById("answer-form");
  if (form) {
    document.addEventListener("keydown", function (e) {
      if (e.target && (e.target.tagName === "TEXTAREA")) return;
      var n = parseInt(e.key, 10);
      if (n >= 1 && n <= 9) {
        var inputs = form.querySelectorAll("input[name=answer]");
        if (inputs[n - 1]) {
          var input = inputs[n - 1];
          input.checked = input.type === "radio" ? true : !input.checked;
          input.focus();
          e.preventDefault();
        }
      } else if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
  }
})();
