/* Sensitive-phrase hints in the agent's composer (progressive enhancement): while the agent types, the tenant's
 * forbidden phrases, bank card numbers (Luhn) and ID card numbers (check digit) are named under the text box.
 * The server enforces the same policy on send (quality/sensitive.py): this only warns earlier. */
(function () {
  "use strict";
  var warn = document.getElementById("sensitive-warn");
  var body = document.getElementById("reply-body");
  if (!warn || !body) return;
  var policy;
  try { policy = JSON.parse(warn.getAttribute("data-policy")); } catch (e) { return; }
  var phrases = (policy.phrases || []).map(function (p) { return p.toLowerCase(); }).filter(Boolean);
  var patterns = policy.patterns || [];
  var CARD = /(^|[^0-9])([0-9](?:[ -]?[0-9]){12,18})(?![0-9])/g;
  var ID = /(^|[^0-9])([1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx])(?![0-9A-Za-z])/g;
  var W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  function luhn(d) {
    var sum = 0;
    for (var i = 0; i < d.length; i++) {
      var n = +d[d.length - 1 - i];
      if (i % 2 === 1) { n *= 2; if (n > 9) n -= 9; }
      sum += n;
    }
    return sum % 10 === 0;
  }
  function idOk(s) {
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += (+s[i]) * W[i];
    return "10X98765432"[sum % 11] === s[17].toUpperCase();
  }
  function scan(text) {
    var found = [];
    var m;
    if (patterns.indexOf("id_card") >= 0) {
      ID.lastIndex = 0;
      while ((m = ID.exec(text))) if (idOk(m[2])) found.push(["id_card", m[2]]);
    }
    if (patterns.indexOf("card") >= 0) {
      CARD.lastIndex = 0;
      while ((m = CARD.exec(text))) {
        var digits = m[2].replace(/[ -]/g, "");
        var isId = found.some(function (f) { return f[1] === m[2]; });
        if (!isId && digits.length >= 13 && digits.length <= 19 && luhn(digits)) found.push(["card", m[2]]);
      }
    }
    var lower = text.toLowerCase();
    phrases.forEach(function (p) { var at = lower.indexOf(p); if (at >= 0) found.push(["phrase", text.substr(at, p.length)]); });
    return found;
  }
  var labels = { phrase: warn.dataset.phrase, card: warn.dataset.card, id_card: warn.dataset.idCard };
  function check() {
    var found = scan(body.value);
    if (!found.length) { warn.hidden = true; warn.textContent = ""; body.removeAttribute("aria-invalid"); return; }
    warn.textContent = warn.dataset.label + " " + found.map(function (f) { return labels[f[0]] + " “" + f[1] + "”"; }).join("; ");
    warn.hidden = false;
    body.setAttribute("aria-invalid", "true");
  }
  body.addEventListener("input", check);
  check();
})();
