// The editor: files (picked, dropped or pasted) go in turn to POST /rmbg (user token =
// app usage); each cut-out is then adjusted locally (background, size, rotation,
// format) and downloaded alone or all together as a zip.
(() => {
  const $ = (id) => document.getElementById(id);
  // Words come from Django's JavaScript catalogue (/jsi18n/) when it loaded.
  const gettext = window.gettext || ((text) => text);
  const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => values[key]);
  const root = $("editor");
  const state = { current: null };
  const hooks = {}; // hooks.divert(files): true when bulk mode takes the files instead of the queue

  function show(el, visible) { el.hidden = !visible; }

  function setError(message) {
    const box = $("error");
    box.textContent = message || "";
    show(box, Boolean(message));
  }

  async function errorMessage(xhr) {
    try {
      const body = JSON.parse(await xhr.response.text());
      if (body.details) return body.details.map((d) => d.message).join(" ");
      return body.error || fill(gettext("The server answered %(status)s."), { status: xhr.status });
    } catch {
      return fill(gettext("The server answered %(status)s."), { status: xhr.status });
    }
  }

  // Included credits are spent before prepaid ones, as on the server.
  function spend(charged) {
    if (!charged) return 0;
    const count = (id) => Number($(id)?.textContent || 0);
    const set = (id, value) => { if ($(id)) $(id).textContent = Math.max(0, value); };
    const fromIncluded = Math.min(charged, count("included"));
    set("included", count("included") - fromIncluded);
    set("prepaid", count("prepaid") - (charged - fromIncluded));
    set("remaining", count("remaining") - charged);
    if (count("remaining") === 0) outOfAllowance();
    return charged - fromIncluded;
  }

  // Nothing left: say when it comes back and what to do, and take no more uploads.
  function outOfAllowance() {
    if ($("remaining")) $("remaining").textContent = 0;
    show($("limit"), true);
    $("file").disabled = true;
    $("dropzone").classList.add("dropzone-off");
  }

  // Credits given back (a batch reserved more than it used): prepaid first, since
  // they were spent last; the page takes uploads again.
  function refund(credits, prepaidTaken = 0) {
    if (!credits || !$("remaining")) return;
    const add = (id, value) => { if ($(id)) $(id).textContent = Number($(id).textContent || 0) + value; };
    const toPrepaid = Math.min(credits, prepaidTaken);
    add("prepaid", toPrepaid);
    add("included", credits - toPrepaid);
    add("remaining", credits);
    show($("limit"), false);
    $("file").disabled = false;
    $("dropzone").classList.remove("dropzone-off");
  }

  // The API's own checks and words, made before sending: a 137 MB file was once
  // uploaded in full only to be refused.
  function fileProblem(file) {
    const extensions = root.dataset.extensions.split(",");
    const suffix = /\.([^./]+)$/.exec(file.name || "")?.[1]?.toLowerCase();
    if (suffix && !extensions.includes(suffix)) {
      return `File type '.${suffix}' is not supported. Allowed formats: ${extensions.join(", ")}`;
    }
    if (file.size === 0) return "Uploaded file is empty (0 bytes).";
    const max = Number(root.dataset.maxBytes);
    if (file.size > max) {
      const mb = (bytes) => bytes / (1024 * 1024);
      return `File size (${mb(file.size).toFixed(1)} MB) exceeds the maximum allowed size of ${Math.floor(mb(max))} MB.`;
    }
    return "";
  }

  // The queue: every file picked, dropped or pasted, processed one after the other.
  const queue = [];
  let busy = false;
  let batches = 0;

  function enqueue(files) {
    if ($("file").disabled || !files.length) return;
    setError("");
    if (hooks.divert?.(files)) return; // bulk mode took them
    batches += 1;
    for (const file of files) queue.push(addItem(file, batches));
    show($("queue-box"), queue.length > 1);
    // One file alone reports its problem where a single upload always did.
    if (queue.length === 1 && queue[0].state === "error") setError(queue[0].message);
    pump();
  }

  function addItem(file, batch) {
    const li = $("queue-item").content.firstElementChild.cloneNode(true);
    const item = { file, li, batch, cutout: null, before: URL.createObjectURL(file), state: "waiting" };
    li.querySelector(".queue-thumb").src = item.before;
    li.querySelector(".queue-name").textContent = file.name;
    li.querySelector("[data-act=show]").setAttribute("aria-label", fill(gettext("Show %(name)s"), { name: file.name }));
    li.querySelector("[data-act=download]").setAttribute("aria-label", fill(gettext("Download the cut-out of %(name)s"), { name: file.name }));
    li.querySelector("[data-act=show]").addEventListener("click", () => select(item, true));
    li.querySelector("[data-act=download]").addEventListener("click", () => download(item));
    $("queue").appendChild(li);
    const problem = fileProblem(file);
    if (problem) fail(item, problem);
    else setState(item, "waiting", gettext("Waiting…"));
    return item;
  }

  function setState(item, name, text, percent) {
    item.state = name;
    item.li.dataset.state = name;
    item.li.querySelector(".queue-state").textContent = text;
    if (percent !== undefined) item.li.querySelector("progress").value = percent;
    $("download-all").disabled = !queue.some((i) => i.state === "done");
  }

  function fail(item, message) {
    item.message = message;
    setState(item, "error", message);
    if (queue.length === 1) setError(message);
  }

  function pump() {
    if (busy) return;
    const next = queue.find((i) => i.state === "waiting");
    if (next) upload(next);
  }

  function progress(item, percent, text) {
    $("upload-progress").value = percent;
    $("status-text").textContent = queue.length > 1 ? `${item.file.name}: ${text}` : text;
    setState(item, item.state === "waiting" ? "uploading" : item.state, text, percent);
  }

  function upload(item) {
    busy = true;
    show($("status"), true);
    show($("spinner"), false);
    progress(item, 0, gettext("Uploading…"));

    const form = new FormData();
    form.append("image", item.file, item.file.name || "image.png");
    form.append("format", "png");
    const model = document.querySelector('input[name="model"]:checked');
    if (model) form.append("model", model.value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", root.dataset.api);
    xhr.responseType = "blob";
    if (root.dataset.token) xhr.setRequestHeader("Authorization", `Bearer ${root.dataset.token}`);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) progress(item, Math.round((event.loaded / event.total) * 100), gettext("Uploading…"));
    };
    xhr.upload.onload = () => {
      item.state = "processing";
      progress(item, 100, gettext("Removing the background…"));
      show($("spinner"), true);
    };
    const finish = () => { busy = false; show($("status"), false); pump(); };
    xhr.onerror = () => { fail(item, gettext("Could not reach the server. Check your connection and try again.")); finish(); };
    xhr.onload = async () => {
      if (xhr.status === 429) {
        outOfAllowance();
        queue.filter((i) => i.state === "waiting" || i === item).forEach((i) => setState(i, "error", gettext("Not processed: nothing left to spend.")));
      } else if (xhr.status !== 200) {
        fail(item, await errorMessage(xhr));
      } else {
        spend(Number(xhr.getResponseHeader("X-Credits-Charged") || 0));
        item.cutout = await createImageBitmap(xhr.response);
        setState(item, "done", gettext("Done"), 100);
        // The first result of each batch comes into view; later ones wait in the queue
        // rather than jump the page while someone adjusts the first.
        if (!queue.some((i) => i !== item && i.batch === item.batch && i.state === "done" && i.shown)) {
          item.shown = true;
          select(item, true);
        }
      }
      finish();
    };
    xhr.send(form);
  }

  function select(item, scroll) {
    state.current = item;
    queue.forEach((i) => i.li.classList.toggle("queue-current", i === item));
    $("before").src = item.before;
    show($("workspace"), true);
    render();
    if (scroll) showResult();
  }

  // Keyboard users land on Download, but the page scrolls to the cut-out, not to the
  // button: focusing Download alone scrolled the top of the image (on a phone, all of it) away.
  function showResult() {
    $("download").focus({ preventScroll: true });
    $("compare").scrollIntoView({ block: "start", behavior: "instant" });
  }

  // The colour names the server accepts are the datalist's options: the canvas would
  // silently paint an unknown name black.
  const COLOUR_NAMES = new Set([...$("colour-names").options].map((o) => o.value));
  const HEX = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;

  function colourProblem(name = $("bg-name").value.trim()) {
    if (!name || HEX.test(name) || name.toLowerCase() === "transparent" || COLOUR_NAMES.has(name.toLowerCase())) return "";
    return fill(gettext("“%(name)s” is not a colour we know. Pick a name from the list or write #RRGGBB."), { name });
  }

  function background() {
    if (document.querySelector('input[name="bg"]:checked').value !== "color") return null;
    const name = $("bg-name").value.trim();
    if (!name) return $("bg-picker").value;
    return colourProblem() ? null : name.toLowerCase();
  }

  function checkColour() {
    const problem = colourProblem();
    $("bg-name-error").textContent = problem;
    show($("bg-name-error"), Boolean(problem));
    $("bg-name").setAttribute("aria-invalid", problem ? "true" : "false");
    $("download").disabled = Boolean(problem);
  }

  function outputSize(boxW, boxH) {
    const w = Number($("width").value) || 0;
    const h = Number($("height").value) || 0;
    if ($("exact").checked) return [w || boxW, h || boxH];
    if (!w && !h) return [boxW, boxH];
    const scale = w && h ? Math.min(w / boxW, h / boxH) : w ? w / boxW : h / boxH;
    return [Math.max(1, Math.round(boxW * scale)), Math.max(1, Math.round(boxH * scale))];
  }

  // The same order as the API: rotate (counter-clockwise), resize, then fill the background.
  function drawInto(canvas, image) {
    const radians = (Number($("angle").value) * Math.PI) / 180;
    const [w0, h0] = [image.width, image.height];
    let [boxW, boxH] = [w0, h0];
    if ($("expand").checked) {
      boxW = Math.round(Math.abs(w0 * Math.cos(radians)) + Math.abs(h0 * Math.sin(radians)));
      boxH = Math.round(Math.abs(w0 * Math.sin(radians)) + Math.abs(h0 * Math.cos(radians)));
    }
    const [outW, outH] = outputSize(boxW, boxH);
    canvas.width = outW;
    canvas.height = outH;
    const ctx = canvas.getContext("2d");
    const fill = background() || ($("format").value === "jpeg" ? "#ffffff" : null);
    if (fill) { ctx.fillStyle = fill; ctx.fillRect(0, 0, outW, outH); }
    ctx.save();
    ctx.scale(outW / boxW, outH / boxH);
    ctx.translate(boxW / 2, boxH / 2);
    ctx.rotate(-radians);
    ctx.drawImage(image, -w0 / 2, -h0 / 2);
    ctx.restore();
    return [outW, outH];
  }

  function render() {
    checkColour();
    if (!state.current) return;
    const [w, h] = drawInto($("result"), state.current.cutout);
    $("angle-value").textContent = `${$("angle").value}°`;
    $("output-size").textContent = fill(gettext("Output: %(w)s × %(h)s px"), { w, h });
    split();
  }

  // The original shows left of the handle, the cut-out right of it.
  function split() {
    const percent = Number($("split").value);
    $("before-wrap").style.clipPath = `inset(0 ${100 - percent}% 0 0)`;
    $("split-line").style.left = `${percent}%`;
    $("split").setAttribute("aria-valuetext", fill(gettext("%(before)s%% original, %(after)s%% cut-out"), { before: percent, after: 100 - percent }).replace(/%%/g, "%"));
  }

  function extension() {
    return $("format").value === "jpeg" ? "jpg" : $("format").value;
  }

  // A cut-out with the current settings, as a file: the one shown, or any in the queue.
  function rendered(item) {
    const canvas = document.createElement("canvas");
    drawInto(canvas, item.cutout);
    const stem = (item.file.name || "image").replace(/\.[^.]+$/, "");
    return new Promise((resolve) => canvas.toBlob(
      (blob) => resolve({ blob, name: `${stem}-cutout.${extension()}` }), `image/${$("format").value}`, 0.92,
    ));
  }

  function save(blob, name) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  async function download(item) {
    if (!item?.cutout || colourProblem()) return;
    const { blob, name } = await rendered(item);
    save(blob, name);
  }

  // Every finished cut-out in one zip, built here with fflate (stored: PNG, WEBP and
  // JPEG are compressed already). Names are made unique: two photos may share one.
  async function downloadAll() {
    const files = {};
    for (const item of queue.filter((i) => i.state === "done")) {
      const { blob, name } = await rendered(item);
      let unique = name;
      for (let n = 2; unique in files; n += 1) unique = name.replace(/(\.\w+)$/, `-${n}$1`);
      files[unique] = [new Uint8Array(await blob.arrayBuffer()), { level: 0 }];
    }
    if (!Object.keys(files).length) return;
    save(new Blob([fflate.zipSync(files)], { type: "application/zip" }), "cutouts.zip");
  }

  // A sample photo (served by us) goes through the queue like a file of one's own.
  document.querySelectorAll("[data-sample]").forEach((button) => button.addEventListener("click", async () => {
    const blob = await (await fetch(button.dataset.sample)).blob();
    enqueue([new File([blob], button.dataset.name, { type: blob.type })]);
  }));

  // Ctrl+V anywhere on the editor: images from the clipboard join the queue.
  document.addEventListener("paste", (event) => {
    const images = [...(event.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
    if (!images.length) return;
    event.preventDefault();
    const stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, "-");
    enqueue(images.map((f, i) => new File([f], `pasted-${stamp}${images.length > 1 ? `-${i + 1}` : ""}.${f.type.split("/")[1] || "png"}`, { type: f.type })));
  });

  const input = $("file");
  input.addEventListener("change", () => { enqueue([...input.files]); input.value = ""; });
  const zone = $("dropzone");
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("dragging"); }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("dragging")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    enqueue([...event.dataTransfer.files]);
  });
  $("controls").addEventListener("input", render);
  $("controls").addEventListener("change", render);
  $("bg-name").addEventListener("input", () => { document.querySelector('input[name="bg"][value="color"]').checked = true; });
  $("bg-picker").addEventListener("input", () => { document.querySelector('input[name="bg"][value="color"]').checked = true; $("bg-name").value = ""; });
  $("split").addEventListener("input", split);
  $("download").addEventListener("click", () => download(state.current));
  $("download-all").addEventListener("click", downloadAll);
  $("reset").addEventListener("click", () => { show($("workspace"), false); state.current = null; zone.focus(); });

  // The quality choice is remembered between visits (when the model is still offered).
  const QUALITY_KEY = "cutout.model";
  const remembered = document.querySelector(`input[name="model"][value="${CSS.escape(localStorage.getItem(QUALITY_KEY) || "")}"]`);
  if (remembered) remembered.checked = true;
  document.querySelectorAll('input[name="model"]').forEach((radio) => {
    radio.addEventListener("change", () => localStorage.setItem(QUALITY_KEY, radio.value));
  });

  // What the bulk mode (editor-bulk.js) shares with the single-image editor.
  window.CutoutEditor = { hooks, setError, spend, refund, fileProblem, colourProblem };

  if (new URLSearchParams(location.search).has("handoff") && typeof CutoutHandoff !== "undefined") {
    CutoutHandoff.take().then((file) => { if (file) enqueue([file]); }).catch(() => {});
  }
})();
