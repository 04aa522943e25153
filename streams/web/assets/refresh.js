// Refreshes the page's <main> from the server every data-refresh seconds (the page reads the
// same without it). Same origin only; nothing else is fetched.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  if (!main) { return; }
  var every = parseInt(main.getAttribute("data-refresh"), 10);
  if (!(every > 0)) { return; }
  function partialUrl() {
    var url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    return url.pathname + url.search;
  }
  function refresh() {
    if (document.hidden) { return; }
    var active = document.activeElement;
    if (active && (active.tagName === "INPUT" || active.tagName === "SELECT")) { return; }
    fetch(partialUrl(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html !== null) {
          main.innerHTML = html;
          main.setAttribute("data-refreshed", new Date().toISOString());
        }
      })
      .catch(function () { /* the worker is restarting or moving: the next poll retries */ });
  }
  window.setInterval(refresh, every * 1000);
}());
