// The user forms: show the station only for the roles that belong to one (the server ignores
// it otherwise). Moved out of admin/users.html (no inline script under the CSP).
(function () {
  "use strict";
  function setUp() {
    var role = document.getElementById("role");
    var box = document.getElementById("station-field");
    var station = document.getElementById("station");
    if (!role || !box) { return; }
    var needs = (box.getAttribute("data-roles") || "").split(" ");
    function sync() {
      var need = needs.indexOf(role.value) >= 0;
      box.hidden = !need;
      if (station) { station.required = need; }
    }
    role.addEventListener("change", sync);
    sync();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setUp); } else { setUp(); }
})();
