// The editor's bulk mode: many images, or a .zip of them, go to the server as one batch
// (POST /api/batches) with the options chosen here; the page then polls the batch's
// status for per-file progress, can cancel it, and offers its zip. The batch is kept in
// sessionStorage, so a reload picks it up again.
(() => {
  const $ = (id) => document.getElementById(id);
  const gettext = window.gettext || ((text) => text);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => values[key]);
  const editor = window.CutoutEditor;
  const root = $("editor");
  const panel = $("bulk");
  if (!editor || !panel) return;
  const toggle = $("bulk-mode");
  const STORE = "cutout.batch";
  const TOGGLE_KEY = "cutout.bulk";
  // A cancelled batch still finishes the files it had started: it has ended (and its zip
  // can be had) once it has a finished_at.
  const ended = (body) => Boolean(body.finished_at);
  const state = { stage: "", items: [], key: "", batch: null, rows: new Map(), timer: 0, delay: 1000, seen: "", token: true, refocus: false };

  const isZip = (file) => /\.zip$/i.test(file.name || "") || /zip/.test(file.type);
  const cost = () => Number(document.querySelector('input[name="model"]:checked')?.dataset.credits || root.dataset.credits || 1);
  const left = () => Number($("remaining")?.textContent || 0);
  const randomKey = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");

  function show(el, visible) { el.hidden = !visible; }

  // ready: files chosen, nothing sent · sending: uploading · running: the server works · finished.
  function setStage(stage) {
    const actions = panel.querySelector(".bulk-actions");
    const hadFocus = state.refocus || actions.contains(document.activeElement);
    state.stage = stage;
    panel.dataset.stage = stage;
    show(panel, Boolean(stage));
    show($("bulk-start"), stage === "ready" || stage === "sending");
    $("bulk-start").disabled = stage !== "ready" || !startable();
    show($("bulk-clear"), stage === "ready");
    show($("bulk-cancel"), stage === "running");
    show($("bulk-new"), stage === "finished");
    show($("bulk-zip"), stage === "finished" && (state.batch?.counts?.done || 0) > 0);
    show($("bulk-progress-row"), stage !== "ready");
    // The options are the batch's from the moment it is sent.
    $("bulk-options").querySelectorAll("fieldset").forEach((f) => { f.disabled = stage !== "ready"; });
    // A button that vanished (or was disabled) under the keyboard focus hands it to the one
    // now in its place; while there is none (sending), the next stage's first button takes it.
    const active = document.activeElement;
    state.refocus = false;
    if (hadFocus && (!actions.contains(active) || active.closest("[hidden]") || active.disabled)) {
      const next = actions.querySelector(":scope > :not([hidden]):not(:disabled)");
      if (next) next.focus({ preventScroll: true });
      else state.refocus = Boolean(stage);
    }
  }

  // --- Before sending: the files, what they will cost, the options -----------------------

  function wants(files) {
    return toggle.checked || files.some(isZip) || files.length > Number(toggle.dataset.from || 10);
  }

  editor.hooks.divert = (files) => {
    if (!wants(files)) return false;
    if (state.stage === "sending" || state.stage === "running") {
      error(gettext("A batch is running. Wait for it to finish or cancel it."));
      return true;
    }
    if (state.stage !== "ready") { reset(); copyEditorOptions(); }
    toggle.checked = true;
    state.key = randomKey();
    files.forEach(add);
    setStage("ready");
    summarise();
    panel.scrollIntoView({ block: "start", behavior: "instant" });
    $("bulk-start").focus({ preventScroll: true });
    return true;
  };

  function add(file) {
    const item = { file, name: file.name, images: 1, problem: "" };
    const li = row(file.name);
    item.li = li;
    if (isZip(file)) {
      item.images = null;
      li.querySelector("img").src = panel.dataset.archiveIcon;
      status(li, "ready", gettext("Counting its images…"));
      CutoutZip.countImages(file, root.dataset.extensions.split(",")).then((count) => {
        item.images = count;
        status(li, "ready", count === null
          ? gettext("Its images could not be listed here; the server will read it.")
          : fill(ngettext("%(n)s image inside", "%(n)s images inside", count), { n: count }));
        summarise();
      });
    } else {
      item.problem = editor.fileProblem(file);
      item.thumb = item.problem ? "" : URL.createObjectURL(file);
      if (item.problem) { item.images = 0; li.dataset.local = ""; } // stays listed, never sent
      li.querySelector("img").src = item.thumb || panel.dataset.fileIcon;
      status(li, item.problem ? "failed" : "ready", item.problem ? fill(gettext("Not sent: %(message)s"), { message: item.problem }) : gettext("Ready"));
    }
    state.items.push(item);
    $("bulk-list").appendChild(li);
  }

  const images = () => state.items.reduce((sum, item) => sum + (item.images || 0), 0);
  const sendable = () => state.items.filter((item) => !item.problem);
  // The API's limits of a batch, in its words: refused here before anything is uploaded.
  function overLimit() {
    const maxFiles = Number(root.dataset.batchMaxFiles);
    const maxMb = Number(root.dataset.batchMaxMb);
    if (images() > maxFiles) return fill(gettext("Too many files: a batch takes at most %(n)s images."), { n: maxFiles });
    const bytes = sendable().reduce((sum, item) => sum + item.file.size, 0);
    if (bytes > maxMb * 1024 * 1024) return fill(gettext("The batch exceeds the maximum total size of %(n)s MB."), { n: maxMb });
    return "";
  }
  const startable = () => sendable().length > 0 && images() * cost() <= left() && !overLimit();

  function summarise() {
    if (state.stage !== "ready") return;
    const count = images();
    const credits = count * cost();
    $("bulk-summary").textContent = `${fill(ngettext("%(n)s image", "%(n)s images", count), { n: count })} · ${fill(
      ngettext("%(n)s credit of the %(left)s you have", "%(n)s credits of the %(left)s you have", credits), { n: credits, left: left() })}`;
    const limit = overLimit();
    const short = credits > left();
    $("bulk-short").textContent = limit || (short ? fill(gettext("Not enough credits: this batch needs %(n)s and you have %(left)s."), { n: credits, left: left() }) : "");
    show($("bulk-short"), Boolean(limit) || short);
    $("bulk-start").disabled = !startable();
  }

  // The editor's current choices are where a batch starts from.
  function copyEditorOptions() {
    const bg = document.querySelector('input[name="bg"]:checked')?.value || "transparent";
    document.querySelector(`input[name="bulk-bg"][value="${bg}"]`).checked = true;
    for (const [from, to] of [["bg-picker", "bulk-bg-picker"], ["bg-name", "bulk-bg-name"], ["width", "bulk-width"], ["height", "bulk-height"], ["angle", "bulk-angle"], ["format", "bulk-format"]]) {
      $(to).value = $(from).value;
    }
    $("bulk-exact").checked = $("exact").checked;
    $("bulk-expand").checked = $("expand").checked;
    checkColour();
  }

  function checkColour() {
    const problem = editor.colourProblem($("bulk-bg-name").value.trim());
    $("bulk-bg-name-error").textContent = problem;
    show($("bulk-bg-name-error"), Boolean(problem));
    $("bulk-bg-name").setAttribute("aria-invalid", problem ? "true" : "false");
    return problem;
  }

  // The form fields of /rmbg, only those that differ from its defaults (it refuses empty ones).
  function options() {
    const fields = { format: $("bulk-format").value };
    const model = document.querySelector('input[name="model"]:checked');
    if (model) fields.model = model.value;
    if (document.querySelector('input[name="bulk-bg"]:checked').value === "color") {
      fields.bg_color = $("bulk-bg-name").value.trim().toLowerCase() || $("bulk-bg-picker").value;
    }
    if ($("bulk-width").value) fields.w = $("bulk-width").value;
    if ($("bulk-height").value) fields.h = $("bulk-height").value;
    if ($("bulk-exact").checked) fields.exact_resize = "true";
    if (Number($("bulk-angle").value)) fields.angle = $("bulk-angle").value;
    if (!$("bulk-expand").checked) fields.expand = "false";
    return fields;
  }

  // --- Sending ---------------------------------------------------------------------------

  // In the page's error box, above the panel: brought into view if it is not.
  function error(message) {
    editor.setError(message);
    $("error").scrollIntoView({ block: "nearest", behavior: "instant" });
  }

  function messageOf(body, status) {
    if (body?.details) return body.details.map((d) => d.message).join(" ");
    return body?.error || fill(gettext("The server answered %(status)s."), { status });
  }

  function start() {
    if (!startable() || checkColour()) return;
    editor.setError("");
    const form = new FormData();
    sendable().forEach((item) => form.append("image", item.file, item.file.name));
    Object.entries(options()).forEach(([name, value]) => form.append(name, value));
    state.cost = cost();
    setStage("sending");
    progress(0, 1, gettext("Uploading…"));
    const xhr = new XMLHttpRequest();
    xhr.open("POST", root.dataset.batches);
    xhr.responseType = "json";
    xhr.setRequestHeader("Authorization", `Bearer ${root.dataset.token}`);
    xhr.setRequestHeader("Idempotency-Key", state.key); // a second click or a retry makes no second batch
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) progress(event.loaded, event.total, gettext("Uploading…")); };
    xhr.onerror = () => { error(gettext("Could not reach the server. Check your connection and try again.")); setStage("ready"); };
    xhr.onload = () => {
      if (xhr.status === 202 || xhr.status === 200) return begin(xhr.response);
      error(messageOf(xhr.response, xhr.status));
      state.key = randomKey(); // refused: whatever is sent next is another request
      setStage("ready");
      // Refused for credits (not for going too fast): the server says what is left, which
      // the page shows from now on, with what the batch lacks, as before sending.
      const available = xhr.status === 429 ? xhr.getResponseHeader("X-Credits-Available") : null;
      if (available !== null) editor.spend(Math.max(0, left() - Number(available)));
      summarise();
    };
    xhr.send(form);
  }

  function begin(batch) {
    state.batch = { id: batch.id, status_url: batch.status_url, result_url: batch.result_url, cost: state.cost, fresh: true };
    remember();
    running();
    progress(0, 1, gettext("Queued"));
    poll();
  }

  function running() {
    setStage("running");
    $("bulk-summary").textContent = gettext("The server is working through it; this page may be reloaded meanwhile.");
  }

  function remember() { sessionStorage.setItem(STORE, JSON.stringify(state.batch)); }

  // --- Following the batch -----------------------------------------------------------------

  function progress(value, max, text) {
    $("bulk-progress").max = max || 1;
    $("bulk-progress").value = value;
    $("bulk-counts").textContent = text;
  }

  async function poll() {
    clearTimeout(state.timer);
    if (!state.batch) return;
    let response;
    try {
      // The page's token lives an hour; past it, the session cookie still signs the request in.
      const headers = state.token ? { Authorization: `Bearer ${root.dataset.token}` } : {};
      response = await fetch(state.batch.status_url, { headers, cache: "no-store", credentials: "same-origin" });
    } catch {
      return later(true);
    }
    if (response.status === 401 && state.token) { state.token = false; return poll(); }
    if (response.status === 404) {
      forget();
      error(gettext("This batch is no longer available."));
      return reset();
    }
    if (!response.ok) return later(true);
    const body = await response.json();
    const changed = render(body);
    if (ended(body)) return finish(body);
    later(false, changed);
  }

  // Every second while files move, then less often (at most every 5 s; 15 s after errors).
  function later(failed, changed) {
    state.delay = changed ? 1000 : Math.min(state.delay * (failed ? 2 : 1.5), failed ? 15000 : 5000);
    state.timer = setTimeout(poll, document.hidden ? Math.max(state.delay, 5000) : state.delay);
  }

  function render(body) {
    const counts = body.counts || {};
    const first = !state.batch.counts;
    state.batch.counts = counts;
    // What the batch reserved leaves the credits shown at once (the server counts it as
    // spent too, so a reload shows the same); what it did not use comes back at the end.
    if (!ended(body)) state.batch.live = true;
    if (first && state.batch.fresh && state.batch.live) {
      state.batch.reserved = ((counts.total || 0) - (counts.failed || 0)) * state.batch.cost;
      state.batch.prepaidTaken = editor.spend(state.batch.reserved);
    }
    remember();
    // The bar fills with the files processed, out of those that will be: cancelled ones
    // leave it (a batch cancelled before it started shows an empty bar).
    const processed = (counts.done || 0) + (counts.failed || 0);
    const parts = [fill(gettext("%(done)s of %(total)s done"), { done: counts.done || 0, total: counts.total || 0 })];
    if (counts.failed) parts.push(fill(gettext("%(n)s failed"), { n: counts.failed }));
    if (counts.cancelled) parts.push(fill(gettext("%(n)s cancelled"), { n: counts.cancelled }));
    progress(processed, (counts.total || 0) - (counts.cancelled || 0), parts.join(" · "));
    // Cancelled, with a file still being processed: nothing left to cancel.
    if (body.status === "cancelled" && !$("bulk-cancel").hidden) {
      state.refocus ||= document.activeElement === $("bulk-cancel"); // for the next button shown
      show($("bulk-cancel"), false);
    }
    if (first) $("bulk-list").replaceChildren(...state.items.filter((item) => item.problem).map((item) => item.li));
    for (const file of body.files || []) fileRow(file);
    const seen = JSON.stringify(counts);
    const changed = seen !== state.seen;
    state.seen = seen;
    return changed;
  }

  const WORDS = { queued: () => gettext("Queued"), running: () => gettext("Removing the background…"), done: () => gettext("Done"), cancelled: () => gettext("Cancelled") };

  function fileRow(file) {
    let li = state.rows.get(file.index);
    if (!li) {
      li = row(file.name);
      const local = state.items.find((item) => item.name === file.name && item.thumb);
      if (local) li.querySelector("img").src = local.thumb;
      state.rows.set(file.index, li);
      const rejected = $("bulk-list").querySelector(".bulk-item[data-local]");
      $("bulk-list").insertBefore(li, rejected);
    }
    if (li.dataset.state === file.status) return;
    status(li, file.status, file.status === "failed" ? file.error || "" : WORDS[file.status]?.() || file.status);
    if (file.status === "done" && file.url) {
      const img = li.querySelector("img");
      img.src = file.url;
      img.classList.add("checkerboard");
      const link = li.querySelector("[data-act=download]");
      link.href = file.url;
      link.download = file.output || "";
    }
  }

  function row(name) {
    const li = $("bulk-item").content.firstElementChild.cloneNode(true);
    li.querySelector("img").src = panel.dataset.fileIcon;
    li.querySelector(".queue-name").textContent = name;
    li.querySelector(".queue-name").title = name;
    li.querySelector("[data-act=download]").setAttribute("aria-label", fill(gettext("Download the cut-out of %(name)s"), { name }));
    return li;
  }

  function status(li, name, text) {
    li.dataset.state = name;
    li.querySelector(".queue-state").textContent = text;
  }

  function finish(body) {
    clearTimeout(state.timer);
    const { counts } = state.batch;
    const { reserved, live, fresh, settled } = state.batch;
    if (!settled && reserved !== undefined && live) {
      editor.refund(Math.max(0, reserved - (body.credits_charged || 0)), state.batch.prepaidTaken || 0);
    } else if (!settled && fresh && reserved === undefined) {
      editor.spend(body.credits_charged || 0); // done before this page saw it run
    }
    state.batch.settled = true;
    remember();
    $("bulk-zip").href = body.result_url || state.batch.result_url;
    setStage("finished");
    const done = counts.done || 0;
    $("bulk-summary").textContent = body.status === "cancelled"
      ? gettext("Cancelled: the files not started yet were not processed and cost nothing.")
      : fill(ngettext("Finished: %(n)s image is ready.", "Finished: %(n)s images are ready.", done), { n: done });
  }

  // Not disabled meanwhile: that would take the keyboard focus away from it.
  async function cancel() {
    if (state.cancelling) return;
    state.cancelling = true;
    try {
      const response = await fetch(state.batch.status_url, { method: "DELETE", headers: { Authorization: `Bearer ${root.dataset.token}` } });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        error(messageOf(body, response.status));
      } else {
        render(body);
        if (ended(body)) finish(body);
        else poll();
      }
    } catch {
      error(gettext("Could not reach the server. Check your connection and try again."));
    }
    state.cancelling = false;
  }

  function forget() { sessionStorage.removeItem(STORE); }

  function reset() {
    clearTimeout(state.timer);
    state.items.forEach((item) => item.thumb && URL.revokeObjectURL(item.thumb));
    Object.assign(state, { items: [], key: randomKey(), batch: null, rows: new Map(), delay: 1000, seen: "" });
    $("bulk-list").replaceChildren();
    $("bulk-summary").textContent = "";
    show($("bulk-short"), false);
    setStage("");
  }

  $("bulk-start").addEventListener("click", start);
  $("bulk-cancel").addEventListener("click", cancel);
  $("bulk-clear").addEventListener("click", () => { reset(); $("file").focus(); });
  $("bulk-new").addEventListener("click", () => { forget(); reset(); $("file").focus(); });
  // Other options make another request: it must not be taken for a retry of the last one.
  $("bulk-options").addEventListener("input", () => { checkColour(); state.key = randomKey(); });
  $("bulk-bg-name").addEventListener("input", () => { document.querySelector('input[name="bulk-bg"][value="color"]').checked = true; });
  $("bulk-bg-picker").addEventListener("input", () => { document.querySelector('input[name="bulk-bg"][value="color"]').checked = true; $("bulk-bg-name").value = ""; checkColour(); });
  $("bulk-options").addEventListener("submit", (event) => event.preventDefault());
  document.querySelectorAll('input[name="model"]').forEach((radio) => radio.addEventListener("change", () => { summarise(); state.key = randomKey(); }));
  document.addEventListener("visibilitychange", () => { if (!document.hidden && state.stage === "running") poll(); });

  // The toggle is remembered, like the quality choice.
  toggle.checked = localStorage.getItem(TOGGLE_KEY) === "on";
  toggle.addEventListener("change", () => localStorage.setItem(TOGGLE_KEY, toggle.checked ? "on" : "off"));

  reset();
  const kept = JSON.parse(sessionStorage.getItem(STORE) || "null");
  if (kept?.status_url) {
    // Credits shown by the reloaded page already leave out what the batch holds.
    state.batch = { ...kept, fresh: false, live: false, counts: undefined };
    running();
    poll();
  }
})();
