// The editor: upload to POST /rmbg (user token = app usage), then adjust the
// cut-out locally (background, size, rotation, format) and download it.
(() => {
  const $ = (id) => document.getElementById(id);
  const root = $("editor");
  const state = { file: null, cutout: null, before: null };

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
      return body.error || `The server answered ${xhr.status}.`;
    } catch {
      return `The server answered ${xhr.status}.`;
    }
  }

  // Included credits are spent before prepaid ones, as on the server.
  function spend(charged) {
    if (!charged) return;
    const count = (id) => Number($(id)?.textContent || 0);
    const set = (id, value) => { if ($(id)) $(id).textContent = Math.max(0, value); };
    const fromIncluded = Math.min(charged, count("included"));
    set("included", count("included") - fromIncluded);
    set("prepaid", count("prepaid") - (charged - fromIncluded));
    set("remaining", count("remaining") - charged);
    if (count("remaining") === 0) outOfAllowance();
  }

  // Nothing left: say when it comes back and what to do, and take no more uploads.
  function outOfAllowance() {
    if ($("remaining")) $("remaining").textContent = 0;
    show($("limit"), true);
    $("file").disabled = true;
    $("dropzone").classList.add("dropzone-off");
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

  function upload(file) {
    if ($("file").disabled) return;
    const problem = fileProblem(file);
    if (problem) { setError(problem); return; }
    setError("");
    state.file = file;
    show($("workspace"), false);
    show($("status"), true);
    show($("spinner"), false);
    $("status-text").textContent = "Uploading…";
    $("upload-progress").value = 0;

    const form = new FormData();
    form.append("image", file, file.name || "image.png");
    form.append("format", "png");
    const model = document.querySelector('input[name="model"]:checked');
    if (model) form.append("model", model.value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", root.dataset.api);
    xhr.responseType = "blob";
    if (root.dataset.token) xhr.setRequestHeader("Authorization", `Bearer ${root.dataset.token}`);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) $("upload-progress").value = Math.round((event.loaded / event.total) * 100);
    };
    xhr.upload.onload = () => {
      $("upload-progress").value = 100;
      $("status-text").textContent = "Removing the background…";
      show($("spinner"), true);
    };
    xhr.onerror = () => { show($("status"), false); setError("Could not reach the server. Check your connection and try again."); };
    xhr.onload = async () => {
      show($("status"), false);
      if (xhr.status === 429) { outOfAllowance(); return; }
      if (xhr.status !== 200) { setError(await errorMessage(xhr)); return; }
      spend(Number(xhr.getResponseHeader("X-Credits-Charged") || 0));
      state.cutout = await createImageBitmap(xhr.response);
      if (state.before) URL.revokeObjectURL(state.before);
      state.before = URL.createObjectURL(file);
      $("before").src = state.before;
      show($("workspace"), true);
      render();
      showResult();
    };
    xhr.send(form);
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

  function colourProblem() {
    const name = $("bg-name").value.trim();
    if (!name || HEX.test(name) || name.toLowerCase() === "transparent" || COLOUR_NAMES.has(name.toLowerCase())) return "";
    return `“${name}” is not a colour we know. Pick a name from the list or write #RRGGBB.`;
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
  function drawInto(canvas) {
    const image = state.cutout;
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
    if (!state.cutout) return;
    const [w, h] = drawInto($("result"));
    $("angle-value").textContent = `${$("angle").value}°`;
    $("output-size").textContent = `Output: ${w} × ${h} px`;
    split();
  }

  // The original shows left of the handle, the cut-out right of it.
  function split() {
    const percent = Number($("split").value);
    $("before-wrap").style.clipPath = `inset(0 ${100 - percent}% 0 0)`;
    $("split-line").style.left = `${percent}%`;
    $("split").setAttribute("aria-valuetext", `${percent}% original, ${100 - percent}% cut-out`);
  }

  function download() {
    const type = `image/${$("format").value}`;
    const ext = $("format").value === "jpeg" ? "jpg" : $("format").value;
    const stem = (state.file.name || "image").replace(/\.[^.]+$/, "");
    $("result").toBlob((blob) => {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${stem}-cutout.${ext}`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    }, type, 0.92);
  }

  const input = $("file");
  input.addEventListener("change", () => { if (input.files[0]) upload(input.files[0]); input.value = ""; });
  const zone = $("dropzone");
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("dragging"); }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("dragging")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) upload(file);
  });
  $("controls").addEventListener("input", render);
  $("controls").addEventListener("change", render);
  $("bg-name").addEventListener("input", () => { document.querySelector('input[name="bg"][value="color"]').checked = true; });
  $("bg-picker").addEventListener("input", () => { document.querySelector('input[name="bg"][value="color"]').checked = true; $("bg-name").value = ""; });
  $("split").addEventListener("input", split);
  $("download").addEventListener("click", download);
  $("reset").addEventListener("click", () => { show($("workspace"), false); state.cutout = null; zone.focus(); });

  // The quality choice is remembered between visits (when the model is still offered).
  const QUALITY_KEY = "cutout.model";
  const remembered = document.querySelector(`input[name="model"][value="${CSS.escape(localStorage.getItem(QUALITY_KEY) || "")}"]`);
  if (remembered) remembered.checked = true;
  document.querySelectorAll('input[name="model"]').forEach((radio) => {
    radio.addEventListener("change", () => localStorage.setItem(QUALITY_KEY, radio.value));
  });

  if (new URLSearchParams(location.search).has("handoff") && typeof CutoutHandoff !== "undefined") {
    CutoutHandoff.take().then((file) => { if (file) upload(file); }).catch(() => {});
  }
})();
