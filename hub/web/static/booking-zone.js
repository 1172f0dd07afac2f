// The booking page without a known zone for the candidate: show the times in the browser's zone.
// Works without it too (times then in UTC, changeable with the select).
(function () {
  var select = document.getElementById("timezone");
  if (!select || !document.body.hasAttribute("data-zone-guess")) return;
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || zone === select.value) return;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) {
      var url = new URL(window.location.href);
      url.searchParams.set("timezone", zone);
      window.location.replace(url.toString());
      return;
    }
  }
})();
