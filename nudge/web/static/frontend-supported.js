// GOV.UK Frontend styles its components for JavaScript only when the body says so. Loaded as a
// file, not inline, so the Content-Security-Policy can refuse every inline script.
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
