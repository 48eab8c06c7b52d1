// Start the GOV.UK Frontend and MOJ Frontend components on the page (an ES module file).
import { initAll as initGovuk } from "./vendor/govuk-frontend.min.js";
import { initAll as initMoj } from "./vendor/moj-frontend.min.js";

initGovuk();
initMoj();

// Print every <details> open (print.css explains why CSS alone cannot), then put back as it was.
let openedForPrint = [];
window.addEventListener("beforeprint", () => {
  openedForPrint = [...document.querySelectorAll("details:not([open])")];
  openedForPrint.forEach((details) => { details.open = true; });
});
window.addEventListener("afterprint", () => {
  openedForPrint.forEach((details) => { details.open = false; });
  openedForPrint = [];
});
