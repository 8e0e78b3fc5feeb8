// Small progressive enhancements on top of htmx. Everything works without
// this file; it only makes failures visible and keeps focus sensible.
(function () {
  "use strict";

  function statusOf(element) {
    var form = element && element.closest ? element.closest("form") : null;
    return form ? form.querySelector(".star-status") : null;
  }

  function showError(event, text) {
    var status = statusOf(event.detail && event.detail.elt);
    if (status) {
      status.innerHTML = "";
      var span = document.createElement("span");
      span.className = "error";
      span.textContent = text;
      status.appendChild(span);
      status.closest("form").classList.add("has-error");
    }
  }

  // The server answered with an error we do not swap (5xx, 403, 404...).
  document.addEventListener("htmx:responseError", function (event) {
    var code = event.detail.xhr ? event.detail.xhr.status : 0;
    showError(event, code === 403 ? "Not saved: please reload the page and try again."
                                  : "Not saved: something went wrong (" + code + "). Try again.");
  });

  // The request never reached the server (offline, server down).
  document.addEventListener("htmx:sendError", function (event) {
    showError(event, "Not saved: the server cannot be reached. Check your connection and try again.");
  });

  // Keep keyboard focus on the star the member pressed after the widget is swapped.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var requested = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    var submitter = requested && requested.submitter;
    if (!submitter || !target || !target.classList || !target.classList.contains("stars")) {
      return;
    }
    var form = document.querySelector('form.stars[data-movie="' + target.dataset.movie + '"]');
    if (!form) { return; }
    var selector = submitter.name === "clear" ? 'button[name="value"][value="1"]'
                                              : 'button[name="value"][value="' + submitter.value + '"]';
    var again = form.querySelector(selector);
    if (again) { again.focus(); }
  });
})();
