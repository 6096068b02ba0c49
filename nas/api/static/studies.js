// The studies page: poll while a study runs (a file, not an inline script: the CSP allows only 'self').
nas.pollStudies(Number(document.currentScript.dataset.pollMs));
