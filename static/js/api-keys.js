// API keys page: copy buttons and a confirmation before revoking.
(() => {
  const gettext = window.gettext || ((text) => text);
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const source = document.querySelector(button.dataset.copy);
      const text = "value" in source && source.value ? source.value : source.textContent.trim();
      const label = button.dataset.label || button.textContent;
      button.dataset.label = label;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = gettext("Copied");
      } catch {
        // Refused, or no clipboard API (plain http): select the text for a manual copy
        // and say so, rather than claim it was copied.
        if (source.select) source.select();
        else window.getSelection().selectAllChildren(source);
        button.textContent = gettext("Press Ctrl+C to copy");
      }
      setTimeout(() => { button.textContent = label; }, 3000);
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
