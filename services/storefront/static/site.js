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

  // Filter forms marked data-autosubmit apply a select picked with a pointer (mouse, finger) at
  // once. A change made with the keyboard (arrow keys step through the options) is not submitted:
  // the form's own submit button applies it, so a keyboard user can move on through the options.
  var REFOCUS = "sweetdream:refocus";
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    var byKeyboard = false;
    select.addEventListener("keydown", function () { byKeyboard = true; });
    select.addEventListener("pointerdown", function () { byKeyboard = false; });
    select.addEventListener("change", function () {
      if (byKeyboard) return;
      try {
        window.sessionStorage.setItem(REFOCUS, JSON.stringify({ path: new URL(select.form.action).pathname,
                                                                 id: select.id }));
      } catch (e) { /* storage refused: the page still reloads, focus starts at the top */ }
      if (select.form.requestSubmit) select.form.requestSubmit();
      else select.form.submit();
    });
  });

  // After that reload, focus goes back to the control that was changed (not the top of the page).
  var refocus = null;
  try {
    refocus = JSON.parse(window.sessionStorage.getItem(REFOCUS) || "null");
    window.sessionStorage.removeItem(REFOCUS);
  } catch (e) { refocus = null; }
  if (refocus && refocus.path === window.location.pathname && refocus.id) {
    var control = document.getElementById(refocus.id);
    if (control && control.closest("form[data-autosubmit]")) {
      var folded = control.closest("details");
      if (folded) folded.open = true;
      control.focus();
    }
  }

  // A refused form's error summary, or an error flashed after a redirect, takes focus (autofocus in
  // the markup; this covers browsers that ignore autofocus on a non-control), so screen readers
  // announce it.
  var summary = document.querySelector("[data-form-error]");
  if (summary && document.activeElement === document.body) summary.focus();

  // Other flashed messages are in the page on load, which a live region does not announce. Moved
  // into the empty polite region once screen readers have registered it, they are a change, which
  // it does announce. They do not move on screen: the region sits right below where they were.
  var ANNOUNCE_AFTER_MS = 500;
  var notes = document.querySelector("[data-flash-notes]");
  var live = document.querySelector("[data-flash-live]");
  if (notes && live) {
    window.setTimeout(function () {
      while (notes.firstChild) live.appendChild(notes.firstChild);
      notes.remove();
    }, ANNOUNCE_AFTER_MS);
  }

  // A chart's scroller is a Tab stop only while the chart is wider than it (a phone): elsewhere there
  // is nothing to scroll. Without JavaScript every scroller stays reachable (tabindex in the HTML).
  function scrollersReachable() {
    document.querySelectorAll(".chart-scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth) box.setAttribute("tabindex", "0");
      else box.removeAttribute("tabindex");
    });
  }
  scrollersReachable();
  window.addEventListener("resize", scrollersReachable);
})();
