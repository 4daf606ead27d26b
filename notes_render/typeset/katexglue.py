"""The JavaScript evaluated once after katex.min.js: it typesets a batch of formulas in one
V8 call and brings the answers back as one string (see katex.MiniRacerEngine._call).

Its text is part of the engine's identity (katex.engine_id): editing it invalidates the
formulas cached with the old text.
"""

from __future__ import annotations

from .layoutglue import LAYOUT_SCRIPT

MAX_EXPAND = 1000
"""KaTeX's maxExpand (its default): expansions allowed per formula; `\\def\\a{\\a\\a}\\a` fails fast."""

# Every exception becomes data, so one bad formula never spoils the others of its batch.
GLUE = r"""
var notesRender = (function () {
  var MAX_EXPAND = __MAX_EXPAND__;
  var trustLinks = false;
  // Always allowed: links to an anchor of the same page and element ids (what equation
  // references and anchors are rewritten to). trust-links adds http(s) \href and \url.
  function trusted(context) {
    if (context.command === "\\htmlId") return true;
    var relative = context.protocol === "_relative";
    if (context.command === "\\href" && relative && /^#/.test(context.url)) return true;
    return trustLinks && (context.command === "\\href" || context.command === "\\url") &&
      (context.protocol === "http" || context.protocol === "https");
  }
  // KaTeX shows a refused command as red source text; we make it an error instead.
  function refusal(context) {
    if (context.command === "\\href" || context.command === "\\url") {
      return context.command + " to '" + context.url + "' is not allowed: " + (trustLinks
        ? "only http(s) links are trusted"
        : "links are refused unless katex.trust-links = true (http and https only)");
    }
    return context.command + " is not allowed: notes-render never trusts it";
  }
  // KaTeX's MathML made valid HTML: it pads a tagged row with <mtd width="50%"> and wraps
  // a relation built with \overset in <mo> (`<mo><mover>…`); neither is allowed, and the
  // MathML (read by screen readers, never shown) means the same without them.
  function validMathml(html) {
    html = html.replace(/<mtd width="[^"]*">/g, "<mtd>");
    if (html.indexOf("<mo><m") < 0) return html;
    var dropped = [];  // for each <mo> open: whether its tags go
    return html.replace(/<(\/?)mo\b[^>]*>/g, function (tag, closing, offset) {
      if (closing) return dropped.pop() ? "" : tag;
      var drop = html.startsWith("<m", offset + tag.length);
      dropped.push(drop);
      return drop ? "" : tag;
    });
  }
  // What any rare case below needs (it must find whatever validMathml fixes), a surrogate,
  // a NUL: one regex scan instead of four, in less than half their time. It also flattens
  // KaTeX's string while young, so the join is cheaper than flattening thousands of ropes.
  var RARE = /<m(?:td width="|o><m)|[\u0000\ud800-\udfff]/;
  var LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
  function renderOne(item, macros, layout) {
    var warnings = [];
    var refused = [];
    var options = {
      displayMode: item.display, output: "htmlAndMathml", throwOnError: true,
      macros: macros, globalGroup: true, maxExpand: MAX_EXPAND,
      trust: function (context) {
        var ok = trusted(context);
        if (!ok) refused.push(context);
        return ok;
      },
      strict: function (code, message, token) {
        if (code === "htmlExtension") return "ignore";  // \htmlId is allowed (equation anchors)
        warnings.push([message.replace(LONE_SURROGATES, function (unit) {  // "\\char"D800"
          return "U+" + unit.charCodeAt(0).toString(16).toUpperCase();
        }), token && token.loc ? token.loc.start : null]);
        return "ignore";
      }
    };
    try {
      var html = katex.renderToString(item.tex, options);
      if (refused.length) {
        var at = item.tex.indexOf(refused[0].command);
        return {error: refusal(refused[0]), position: at < 0 ? null : at, warnings: warnings};
      }
      var rare = RARE.test(html);
      if (rare) {
        html = validMathml(html);
        if (!html.isWellFormed()) {  // \\char"D800: no UTF-8 can carry it to the page
          var char = item.tex.indexOf("\\char");
          return {error: "\\char makes a lone UTF-16 surrogate here, which is not a character",
                  position: char < 0 ? null : char, warnings: warnings};
        }
      }
      if (!layout) return {html: html, warnings: warnings, rare: rare};
      var laid = notesLayout(html, item.display);  // see layoutglue.py
      return {html: laid.html, facts: laid.facts, warnings: warnings, rare: rare};
    } catch (e) {
      if (e instanceof katex.ParseError) {
        return {error: e.rawMessage || e.message,
                position: e.position === undefined ? null : e.position, warnings: warnings};
      }
      return {error: String(e && e.message || e), position: null, warnings: warnings};
    }
  }
  // The answer is one string: a JSON object of the formulas that did not simply typeset
  // (errors, warnings; by index, usually empty), after a NUL the layout facts of every
  // formula (three numbers each, see layoutglue.py), then every formula's HTML, each after
  // a NUL. Quoting 60 MB of HTML as JSON and parsing it again in Python cost ~0.4 s of CPU
  // on 15,000 formulas. An HTML holding a NUL (only `\char0` makes one, with a warning)
  // travels in the JSON part.
  var macros = {};
  return {
    setTrustLinks: function (value) { trustLinks = value; },
    render: function (payload) {
      var request = JSON.parse(payload);
      // A batch comes in parts: a part that continues one keeps the macros defined so far.
      if (!request.more) macros = Object.assign({}, request.macros);
      var special = {};
      var facts = [];
      var parts = request.items.map(function (item, index) {
        var result = renderOne(item, macros, request.layout);
        facts.push.apply(facts, result.facts || [0, -1, -1]);
        var html = result.html;
        if (html === undefined || result.warnings.length || (result.rare && html.indexOf("\u0000") >= 0)) {
          special[index] = result;
          return "";
        }
        return html;
      });
      return JSON.stringify(special) + "\u0000" + facts.join(",") + "\u0000" + parts.join("\u0000");
    }
  };
})();
""".replace("__MAX_EXPAND__", str(MAX_EXPAND))
GLUE = LAYOUT_SCRIPT + GLUE  # the layout of KaTeX's HTML (layoutglue.py), called by render
