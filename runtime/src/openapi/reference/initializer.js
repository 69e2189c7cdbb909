// Starts Swagger UI on the API reference page: the OpenAPI document at `settings.url`,
// try-it-out, and the Authorize dialog. It is a file of its own, served by the application,
// because the page's Content-Security-Policy allows no inline script.
"use strict";
(function () {
  var settings = {{settings}};
  window.ui = SwaggerUIBundle({
    url: settings.url,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    displayRequestDuration: true,
    // No document validation by an outside service: the page talks to no other origin
    // than its own and the configured token endpoints.
    validatorUrl: "none",
    // The page's query string never reconfigures it (no `?url=` of someone else's choice).
    queryConfigEnabled: false,
    // Tokens live in the page's memory only, never in localStorage.
    persistAuthorization: false,
    // No cookies on the requests tried from the page: the API takes bearer tokens.
    withCredentials: false
  });
})();
