// Small progressive enhancements on top of htmx. Everything works without
// this file; it only makes failures visible and keeps focus sensible.
(function () {
  "use strict";

  // Where a form says how its request went: the star widget's status line,
  // or, for the other buttons (watch, not interested, haven't seen), a line
  // under the row of buttons, made the first time it has something to say
  // (beside the buttons it would push them around).
  function statusOf(element) {
    var form = element && element.closest ? element.closest("form") : null;
    if (!form) { return null; }
    var status = form.querySelector(".star-status");
    if (status) { return status; }
    var row = form.parentElement;
    status = row.querySelector(":scope > .action-status");
    if (!status) {
      status = document.createElement("p");
      status.className = "action-status";
      status.setAttribute("role", "status");
      status.setAttribute("aria-live", "polite");
      row.appendChild(status);
    }
    return status;
  }

  function showError(event, text) {
    var status = statusOf(event.detail && event.detail.elt);
    if (status) {
      status.innerHTML = "";
      var span = document.createElement("span");
      span.className = "error";
      span.textContent = text;
      status.appendChild(span);
      var form = status.closest("form");
      if (form) { form.classList.add("has-error"); }
    }
  }

  // What the server said, as text: its short messages (a limit's "try again
  // in N seconds", "not on your watchlist", "your account no longer exists")
  // are for the member; a whole error page is not.
  function serverMessage(xhr) {
    var body = xhr && typeof xhr.responseText === "string" ? xhr.responseText : "";
    var type = xhr ? (xhr.getResponseHeader("Content-Type") || "") : "";
    var text = body;
    if (type.indexOf("json") !== -1) {
      try { text = String(JSON.parse(body).detail || ""); } catch (e) { text = ""; }
    } else if (type.indexOf("html") !== -1) {
      if (/<html/i.test(body)) { return ""; }
      text = new DOMParser().parseFromString(body, "text/html").body.textContent || "";
    }
    text = text.replace(/\s+/g, " ").trim();
    return text.length && text.length <= 300 ? text : "";
  }

  // The server answered with an error we do not swap (429, 5xx, 403, 404...).
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var code = xhr ? xhr.status : 0;
    var said = code === 403 ? "" : serverMessage(xhr);
    showError(event, code === 403 ? "Not saved: please reload the page and try again."
                     : said ? said
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
