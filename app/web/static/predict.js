// The prediction form: send the six chosen values to the API and show the answer.
"use strict";

const form = document.getElementById("predict-form");
const errorBox = document.getElementById("error");
const resultBox = document.getElementById("result");

function showError(message) {
  resultBox.hidden = true;
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function showResult(label, probabilities) {
  errorBox.hidden = true;
  document.getElementById("prediction").textContent = label;
  for (const row of document.querySelectorAll("#probabilities tbody tr")) {
    const probability = probabilities[row.dataset.class] ?? 0;
    const percent = (probability * 100).toFixed(1) + "%";
    row.querySelector(".fill").style.width = percent;
    row.querySelector(".value").textContent = percent;
  }
  resultBox.hidden = false;
}

function describeErrors(body) {
  // The API answers 4xx with {"detail": [{"msg": ...}, ...]}.
  const details = body && Array.isArray(body.detail) ? body.detail : [];
  // The form sends one row, so the API's "row 0: " prefix says nothing to a person.
  const messages = details.map((d) => d.msg.replace(/^row \d+: /, ""));
  return messages.length ? messages.join("; ") : "The service could not answer.";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const missing = [...form.elements].filter((el) => el.tagName === "SELECT" && !el.value);
  if (missing.length) {
    showError("Choose a value for: " + missing.map((el) => el.labels[0].firstChild.textContent.trim()).join(", ") + ".");
    missing[0].focus();
    return;
  }
  const row = Object.fromEntries(new FormData(form));
  try {
    const response = await fetch(form.dataset.api, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ inputs: [row] }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      showError(describeErrors(body));
      return;
    }
    showResult(body.predictions[0], body.probabilities[0]);
  } catch (error) {
    showError("The service could not be reached: " + error.message);
  }
});
