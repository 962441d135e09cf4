// Behaviour that used to be inline handlers (the Content-Security-Policy allows no inline
// script): delegated from the document, so content swapped in by HTMX works too.
//   <button data-print>                     prints the page
//   <form data-confirm="Sure?">             asks before submitting
//   <form data-disable-on-submit>           disables its buttons once sent (no double intake)
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-disable-on-submit")) {
      setTimeout(function () {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      });
    }
  });
})();
