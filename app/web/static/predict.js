// The prediction form: send the six chosen values to the API, show the answer and why.
// The file form: upload a CSV or Parquet file, show its counts and the first refused rows, offer
// the scored file and, sent again with rows=rejected, the refused rows alone.
"use strict";

const form = document.getElementById("predict-form");
const errorBox = document.getElementById("error");
const resultBox = document.getElementById("result");
const explanationBox = document.getElementById("explanation");
const percent = (probability) => (probability * 100).toFixed(1) + "%";

function showError(message) {
  resultBox.hidden = true;
  errorBox.textContent = message;
  errorBox.hidden = false;
}

function showResult(label, probabilities) {
  errorBox.hidden = true;
  document.getElementById("prediction").textContent = label;
  for (const row of document.querySelectorAll("#probabilities tbody tr")) {
    const shown = percent(probabilities[row.dataset.class] ?? 0);
    row.querySelector(".fill").style.width = shown;
    row.querySelector(".value").textContent = shown;
  }
  explanationBox.hidden = true;
  resultBox.hidden = false;
}

// A feature as the page names it: the label of its bar (and of its select), not the API's name.
function featureLabel(feature) {
  return document.querySelector(`#shapley tr[data-feature="${feature}"] th`).textContent;
}

function showExplanation(explanation) {
  // The predicted class's Shapley values, as bars scaled to the largest one (half the width).
  const verdict = explanation.prediction;
  const values = explanation.shapley[verdict];
  const largest = Math.max(...Object.values(values).map(Math.abs)) || 1;
  for (const element of explanationBox.querySelectorAll(".verdict")) element.textContent = verdict;
  document.getElementById("base-value").textContent = percent(explanation.base_values[verdict]);
  document.getElementById("final-value").textContent = percent(explanation.probabilities[verdict]);
  for (const row of document.querySelectorAll("#shapley tbody tr")) {
    const value = values[row.dataset.feature];
    const push = row.querySelector(".push");
    push.className = "push " + (value >= 0 ? "toward" : "against");
    push.style.width = ((Math.abs(value) / largest) * 50).toFixed(2) + "%";
    row.querySelector(".shap-value").textContent = (value >= 0 ? "+" : "") + (value * 100).toFixed(1) + " pts";
  }
  const flips = document.getElementById("flips");
  flips.replaceChildren(
    ...explanation.counterfactuals.map((change) => {
      const item = document.createElement("li");
      item.textContent = `${featureLabel(change.feature)} → ${change.value}: ${change.prediction} (${percent(change.probability)})`;
      return item;
    }),
  );
  if (!explanation.counterfactuals.length) {
    const item = document.createElement("li");
    item.textContent = "None: no change of a single value gives another class.";
    flips.append(item);
  }
  explanationBox.hidden = false;
}

async function postRow(url, row) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ inputs: [row] }),
  });
  return { ok: response.ok, body: await response.json().catch(() => null) };
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
    const predicted = await postRow(form.dataset.api, row);
    if (!predicted.ok) {
      showError(describeErrors(predicted.body));
      return;
    }
    showResult(predicted.body.predictions[0], predicted.body.probabilities[0]);
    const explained = await postRow(form.dataset.explain, row);
    if (explained.ok) showExplanation(explained.body.explanations[0]);
  } catch (error) {
    showError("The service could not be reached: " + error.message);
  }
});

const fileForm = document.getElementById("file-form");
const fileError = document.getElementById("file-error");
const fileResult = document.getElementById("file-result");
const fileDownload = document.getElementById("file-download");
const fileRejects = document.getElementById("file-rejects");
const rejectsDownload = document.getElementById("file-rejects-download");
let scoredFile = null; // the file last scored, sent again for its refused rows alone

function showFileError(message) {
  fileResult.hidden = true;
  fileError.textContent = message;
  fileError.hidden = false;
}

function downloadName(response) {
  // The service names the file: attachment; filename="cars.scored.csv".
  const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  return match ? match[1] : "scored";
}

function showRejected(rejected, response) {
  // The service lists the first refused rows: [{"row": 0, "error": "..."}], rows counted from 0.
  const listed = JSON.parse(response.headers.get("X-Rows-Rejected-First") || "[]");
  const body = document.querySelector("#file-rejected-rows tbody");
  body.replaceChildren(
    ...listed.map(({ row, error }) => {
      const line = document.createElement("tr");
      for (const text of [String(row), error]) {
        line.append(document.createElement("td"));
        line.lastChild.textContent = text;
      }
      return line;
    }),
  );
  document.getElementById("file-rejects-listed").textContent =
    listed.length < rejected ? `the first ${listed.length} of ${rejected}` : `all ${rejected}`;
  fileRejects.hidden = rejected === 0;
}

async function save(response) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = downloadName(response);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

rejectsDownload.addEventListener("click", async () => {
  const body = new FormData();
  body.append("file", scoredFile);
  try {
    const response = await fetch(`${fileForm.dataset.api}?rows=rejected`, { method: "POST", body });
    if (!response.ok) {
      showFileError(describeErrors(await response.json().catch(() => null)));
      return;
    }
    await save(response);
  } catch (error) {
    showFileError("The service could not be reached: " + error.message);
  }
});

fileForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("file-input");
  if (!input.files.length) {
    showFileError("Choose a .csv or .parquet file first.");
    return;
  }
  const body = new FormData();
  body.append("file", input.files[0]);
  try {
    const response = await fetch(fileForm.dataset.api, { method: "POST", body });
    if (!response.ok) {
      showFileError(describeErrors(await response.json().catch(() => null)));
      return;
    }
    const rows = Number(response.headers.get("X-Rows"));
    const rejected = Number(response.headers.get("X-Rows-Rejected"));
    const classes = JSON.parse(response.headers.get("X-Class-Counts") || "{}");
    document.getElementById("file-rows").textContent = rows;
    document.getElementById("file-scored").textContent = rows - rejected;
    document.getElementById("file-rejected").textContent = rejected;
    for (const row of document.querySelectorAll("#file-classes tbody tr")) {
      row.querySelector(".count").textContent = classes[row.dataset.class] ?? 0;
    }
    if (fileDownload.href.startsWith("blob:")) URL.revokeObjectURL(fileDownload.href);
    fileDownload.href = URL.createObjectURL(await response.blob());
    fileDownload.download = downloadName(response);
    scoredFile = input.files[0];
    showRejected(rejected, response);
    fileError.hidden = true;
    fileResult.hidden = false;
  } catch (error) {
    showFileError("The service could not be reached: " + error.message);
  }
});
