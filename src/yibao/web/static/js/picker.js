// The intake page's item picker: typing narrows the item list (progressive enhancement).
//
// Each <option> carries data-keys (pinyin initials, full pinyin, the Chinese name, the code
// and the English name, separated by "|"), made by yibao.cases.picker.search_keys; the rule
// is the same as picker.matches: the typed text, without spaces and in lower case, is part
// of one key. Without this script the filter stays hidden and the plain <select> works.
(function () {
  "use strict";
  const input = document.getElementById("item_filter");
  const select = document.getElementById("service_code");
  if (!input || !select) return;
  const hint = document.getElementById("item_filter_hint");
  input.hidden = false;
  if (hint) hint.hidden = false;

  const norm = (text) => text.replace(/\s+/g, "").toLowerCase();
  const items = Array.from(select.options).filter((o) => o.value);
  const placeholder = Array.from(select.options).find((o) => !o.value);

  function matches(query, keys) {
    return !query || keys.split("|").some((k) => norm(k).includes(query));
  }

  function visible() {
    return items.filter((o) => !o.hidden);
  }

  function choose(option) {
    if (!option || select.value === option.value) return;
    select.value = option.value;
    // HTMX loads the item's materials (and the 当场办结 button) on "change".
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function narrow() {
    const query = norm(input.value);
    for (const o of items) o.hidden = !matches(query, o.dataset.keys || "");
    if (placeholder) placeholder.hidden = Boolean(query);
    const shown = visible();
    // A narrowed list is drawn open, so the clerk sees what is left.
    select.size = query ? Math.min(Math.max(shown.length, 2), 8) : 0;
    if (query && shown.length && (select.selectedIndex < 0 || select.selectedOptions[0].hidden)) {
      choose(shown[0]);
    }
    // Only a query that finds nothing is marked (a "valid" mark would colour every keystroke).
    if (query && !shown.length) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  input.addEventListener("input", narrow);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === "ArrowDown") {
      // Enter picks the first match instead of sending the form half filled.
      event.preventDefault();
      const shown = visible();
      const current = select.selectedOptions[0];
      if (shown.length) choose(current && !current.hidden ? current : shown[0]);
      if (event.key === "ArrowDown") select.focus();
      else {
        select.size = 0;
        const next = document.getElementById("channel");
        (next || select).focus();
      }
    } else if (event.key === "Escape") {
      input.value = "";
      narrow();
    }
  });
  // Typing on the list itself (where Tab lands) moves into the filter with that key, so the
  // clerk tabs to the item and types "cbpz"; the filter box also takes Chinese (an IME).
  select.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.length === 1 && event.key.trim()) {
      event.preventDefault();
      input.value += event.key;
      input.focus();
      narrow();
    } else if (event.key === "Backspace" && input.value) {
      event.preventDefault();
      input.value = input.value.slice(0, -1);
      input.focus();
      narrow();
    } else if (event.key === "Escape" && input.value) {
      input.value = "";
      narrow();
    } else if (event.key === "Enter" && select.size > 1) {
      event.preventDefault();
      select.size = 0;
      const next = document.getElementById("channel");
      if (next) next.focus();
    }
  });
})();
