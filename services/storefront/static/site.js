// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // An irreversible action asks first: data-confirm="question" on the form, or on the submit button
  // (that button's question wins). Declined, nothing is sent. Registered before data-submit-once,
  // which leaves a cancelled submit alone. Without JavaScript the form submits as usual.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Forms marked data-submit-once disable their buttons after the first submit, so an impatient
  // double click sends one request. The server does not rely on it: checkout also carries an
  // idempotency token.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-submit-once")) return;
    if (event.defaultPrevented) return;
    if (form.dataset.submitted === "true") {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "true";
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (button) {
        button.disabled = true;
        button.setAttribute("aria-disabled", "true");
        if (button.dataset.busyLabel) button.textContent = button.dataset.busyLabel;
      });
    }, 0);
  });

  // Filters start folded on phones; on wide screens there is room to show them.
  if (window.matchMedia("(min-width: 960px)").matches) {
    document.querySelectorAll("details[data-open-wide]").forEach(function (details) {
      details.open = true;
    });
  }

  // Filter forms marked data-autosubmit apply a changed select at once.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form.requestSubmit) select.form.requestSubmit();
      else select.form.submit();
    });
  });
})();
