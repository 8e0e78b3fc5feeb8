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

  // --- Folding on a phone: the main menu and the panel's filters -----------
  // Each toggle button controls the element its aria-controls names; the
  // page's CSS folds that element on narrow screens only once this script
  // has marked the page (html.js), so without JavaScript nothing is hidden.
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest ? event.target.closest(".menu-toggle, .filters-toggle") : null;
    if (!toggle) { return; }
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    var folded = document.getElementById(toggle.getAttribute("aria-controls"));
    if (folded) { folded.classList.toggle("unfolded", open); }
  });

  // --- Stars as one radio group ----------------------------------------------
  // Without JavaScript each star is a submit button (five Tab stops, and it
  // works). With it, each widget becomes one radio group: one Tab stop (the
  // member's rating, else the first star), arrows and Home/End move the
  // focus (the CSS previews up to it), Enter or Space saves, as the button it
  // still is. Moving never saves: a rating is one deliberate press.
  function starGroups(root) {
    if (!root || !root.querySelectorAll) { return; }
    root.querySelectorAll(".stars fieldset, .ask-stars").forEach(function (group) {
      var stars = group.querySelectorAll(".star");
      if (!stars.length || group.getAttribute("role") === "radiogroup") { return; }
      group.setAttribute("role", "radiogroup");
      var checked = -1;
      stars.forEach(function (star, index) {
        var on = star.getAttribute("aria-pressed") === "true";
        star.removeAttribute("aria-pressed");
        star.setAttribute("role", "radio");
        star.setAttribute("aria-checked", on ? "true" : "false");
        if (on) { checked = index; }
      });
      stars.forEach(function (star, index) { star.tabIndex = index === Math.max(checked, 0) ? 0 : -1; });
    });
  }
  var STAR_KEYS = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 };
  document.addEventListener("keydown", function (event) {
    var star = event.target.closest ? event.target.closest('.star[role="radio"]') : null;
    if (!star) { return; }
    var stars = Array.prototype.slice.call(star.closest('[role="radiogroup"]').querySelectorAll(".star"));
    var index = stars.indexOf(star);
    var next = event.key in STAR_KEYS ? index + STAR_KEYS[event.key]
      : event.key === "Home" ? 0 : event.key === "End" ? stars.length - 1 : null;
    if (next === null) { return; }
    event.preventDefault();
    next = Math.max(0, Math.min(stars.length - 1, next));
    stars.forEach(function (other, i) { other.tabIndex = i === next ? 0 : -1; });
    stars[next].focus();
  });
  starGroups(document);
  document.addEventListener("htmx:load", function (event) { starGroups(event.detail.elt); });

  // --- Calm answers on the recommendations panel ---------------------------
  // An answer (a rating, "not interested") leaves its card where it is,
  // saying so with an Undo; the panel is then fetched again and only what is
  // new is added below the list and announced, so nothing the member is
  // looking at moves.

  function panelCard(element) {
    var card = element && element.closest ? element.closest(".rec-card") : null;
    return card && card.closest("#recommendations") ? card : null;
  }

  // While a card's content is swapped it keeps its height: the cards below
  // (and what the member is looking at) stay put.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var card = panelCard(event.detail.target);
    if (card) { card.style.minHeight = card.getBoundingClientRect().height + "px"; }
  });

  // An answer counts for one new card from the moment it is sent: the
  // server's "taste changed" comes before htmx reports the request done.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    var card = panelCard(form);
    form._card = card;
    if (!card || form.getAttribute("data-card-answer") === "undismiss") { return; }
    if (!card.classList.contains("is-answered")) {
      var panel = card.closest("#recommendations");
      panel.dataset.pending = Number(panel.dataset.pending || 0) + 1;
      card.classList.add("is-answered");
      form._counted = true;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    var card = form._card;  // the form itself may have been swapped out by now
    if (!card) { return; }
    var panel = card.closest("#recommendations");
    if (!event.detail.successful) {
      if (form._counted && panel) {
        panel.dataset.pending = Math.max(0, Number(panel.dataset.pending || 0) - 1);
        card.classList.remove("is-answered");
      }
      return;
    }
    var answer = form.getAttribute("data-card-answer");
    var bar = card.querySelector(".rec-hidden-bar");
    if (answer === "dismiss" && bar) {
      card.style.minHeight = card.getBoundingClientRect().height + "px";
      card.classList.add("is-dismissed");
      bar.hidden = false;
      var undo = bar.querySelector("button");
      if (undo) { undo.focus({ preventScroll: true }); }
    } else if (answer === "undismiss" && bar) {
      card.classList.remove("is-dismissed");
      bar.hidden = true;
      var again = card.querySelector('[data-card-answer="dismiss"] button');
      if (again) { again.focus({ preventScroll: true }); }
    }
  });

  function announce(panel, count) {
    var news = panel.querySelector(".rec-news");
    if (!news || !count) { return; }
    news.textContent = count === 1 ? "1 new recommendation below" : count + " new recommendations below";
    news.classList.add("shown");
    clearTimeout(news._hide);
    news._hide = setTimeout(function () { news.classList.remove("shown"); }, 6000);
  }

  // The taste changed (the server says so after any answer): say what the
  // list is now made from, and add what the new list has that this one does
  // not, one card per answer on a card not yet made up for.
  document.body.addEventListener("tasteChanged", function () {
    var panel = document.getElementById("recommendations");
    if (!panel || !panel.dataset.refresh) { return; }
    fetch(panel.dataset.refresh, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        // What the list is made from ("From your 3 ratings…"), in place; it
        // keeps at least its height so nothing under it moves.
        var basis = panel.querySelector('[data-testid="basis"]');
        var newBasis = fresh.querySelector('[data-testid="basis"]');
        if (basis && newBasis && basis.innerHTML !== newBasis.innerHTML) {
          basis.style.minHeight = basis.getBoundingClientRect().height + "px";
          basis.innerHTML = newBasis.innerHTML;
        }
        var list = panel.querySelector(".rec-list");
        if (!list) { return; }
        var shown = {};
        list.querySelectorAll(".rec-card").forEach(function (card) { shown[card.dataset.movie] = true; });
        var rank = list.querySelectorAll(".rec-card").length;
        var added = 0;
        var pending = Number(panel.dataset.pending || 0);
        fresh.querySelectorAll(".rec-list > .rec-card").forEach(function (card) {
          if (added >= pending || shown[card.dataset.movie]) { return; }
          var copy = document.importNode(card, true);
          var number = copy.querySelector(".rank");
          rank += 1;
          if (number) { number.textContent = rank; }
          copy.classList.add("is-new");
          list.appendChild(copy);
          if (window.htmx) { window.htmx.process(copy); }
          starGroups(copy);
          added += 1;
        });
        panel.dataset.pending = pending - added;
        announce(panel, added);
      })
      .catch(function () { /* the list stays as it is; the next answer tries again */ });
  });
})();
