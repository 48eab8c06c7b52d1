// Start the GOV.UK Frontend and MOJ Frontend components on the page (an ES module file).
import { initAll as initGovuk } from "./vendor/govuk-frontend.min.js";
import { initAll as initMoj } from "./vendor/moj-frontend.min.js";

initGovuk();
initMoj();
