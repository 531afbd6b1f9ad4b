// Usage dashboard: choosing a billing period shows it.
document.getElementById("period").addEventListener("change", (event) => event.target.form.submit());
