// Live fragments: an element with data-live="URL" is replaced by that URL's HTML every
// data-poll milliseconds (the server renders it: no template is duplicated here).
(function () {
  document.querySelectorAll("[data-live]").forEach(function (box) {
    var url = box.getAttribute("data-live");
    var every = parseInt(box.getAttribute("data-poll") || "1000", 10);
    var busy = false;
    setInterval(function () {
      if (busy) return;
      busy = true;
      fetch(url, {credentials: "same-origin"}).then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      }).then(function (html) {
        box.innerHTML = html;
        box.removeAttribute("data-stale");
      }).catch(function () {
        box.setAttribute("data-stale", "1");
      }).finally(function () { busy = false; });
    }, every);
  });
})();
