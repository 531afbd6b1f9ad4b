// Landing page: a dropped or chosen file opens in the editor.
(() => {
  const zone = document.getElementById("home-drop");
  const input = document.getElementById("home-file");
  const open = async (file) => {
    try {
      await CutoutHandoff.put(file);
      location.href = "/editor/?handoff=1";
    } catch {
      location.href = "/editor/";
    }
  };
  input.addEventListener("change", () => input.files[0] && open(input.files[0]));
  ["dragenter", "dragover"].forEach((n) => zone.addEventListener(n, (e) => { e.preventDefault(); zone.classList.add("dragging"); }));
  ["dragleave", "drop"].forEach((n) => zone.addEventListener(n, () => zone.classList.remove("dragging")));
  zone.addEventListener("drop", (e) => { e.preventDefault(); if (e.dataTransfer.files[0]) open(e.dataTransfer.files[0]); });
  // A sample photo (served by us) opens in the editor like a file of one's own.
  document.querySelectorAll("[data-sample]").forEach((button) => button.addEventListener("click", async () => {
    const blob = await (await fetch(button.dataset.sample)).blob();
    open(new File([blob], button.dataset.name, { type: blob.type }));
  }));
})();
