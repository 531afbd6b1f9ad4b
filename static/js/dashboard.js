// Usage dashboard: choosing a billing period shows it.
document.getElementById("period").addEventListener("change", (event) => event.target.form.submit());

// The meter's bar is sized here from its value: the CSP allows no inline style attribute.
for (const meter of document.querySelectorAll(".meter[aria-valuenow]")) {
  meter.firstElementChild.style.width = `${meter.getAttribute("aria-valuenow")}%`;
}
