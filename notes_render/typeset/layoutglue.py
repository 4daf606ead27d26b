"""The JavaScript twin of mathlayout.py, run in V8 right after KaTeX makes a formula's HTML:
scanning KaTeX's HTML again in Python cost a cold corpus200 build about 0.7 s of CPU, the
same scans in V8's regex engine a few tens of milliseconds.

mathlayout.py stays the reference: a result whose engine did not give these facts (a test's
engine, an error, an old cache entry) is laid out there, and
tests/test_layout_glue.py checks that both give the same answer for every formula of
tests/fixtures/layout_formulas.txt. The markup these scans look for is mathlayout's own,
put into the script from there.
"""

from __future__ import annotations

import json

from .mathlayout import _BASE_START, _HTML_START, _QUADS, MAY_SCROLL_CHARACTERS

LAYOUT_SCRIPT = r"""
var notesLayout = (function () {
  var HTML_START = __HTML_START__, BASE_START = __BASE_START__, QUADS = __QUADS__;
  var MAY_SCROLL = __MAY_SCROLL__;
  var STRUT = /<span class="katex-strut" style="[^"]*"><\/span>/y;
  var MARKUP = /<[^>]*>/g;
  // Python's \w (str.isalnum() or "_"), for mathlayout._ENTITY: the same up to the Unicode
  // version (V8's may be newer than Python's), and KaTeX writes "&" only in its five escapes.
  var ENTITY = /&(?:#x?[0-9a-fA-F]+|[\p{L}\p{N}_]+);/gu;
  // Whether Python's str.isspace() holds for a code unit (what str.strip() takes off;
  // JavaScript's trim() differs), without a regex call for each character of a piece.
  function isSpace(unit) {
    if (unit <= 0x20) return unit >= 0x1c || (unit >= 9 && unit <= 13);
    if (unit < 0x85) return false;
    return unit === 0x85 || unit === 0xa0 || unit === 0x1680 || (unit >= 0x2000 && unit <= 0x200a) ||
      unit === 0x2028 || unit === 0x2029 || unit === 0x202f || unit === 0x205f || unit === 0x3000;
  }
  // Any of the quads, found from its lastIndex on.
  var ANY_QUAD = new RegExp(Object.keys(QUADS).map(function (quad) {
    return quad.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&");
  }).join("|"), "g");
  // The code units UTF-8 writes in more than one byte (a surrogate: two of a pair's four).
  var WIDE = /[\u0080-\uffff]/g;

  // mathlayout._children: [start, end] of each element directly inside the element whose
  // content starts at pos, up to its closing tag; null if the markup does not balance.
  // Each tag is what mathlayout._TAG matches, found with indexOf and charCodeAt: a regex
  // match object per tag cost three times as much.
  function children(html, pos) {
    var found = [], depth = 0, start = 0;
    for (var at = html.indexOf("<", pos); at >= 0; at = html.indexOf("<", at + 1)) {
      var closing = html.charCodeAt(at + 1) === 47;  // "/"
      var letter = html.charCodeAt(at + (closing ? 2 : 1)) | 32;  // lower case, if a letter
      if (letter < 97 || letter > 122) continue;
      var end = html.indexOf(">", at) + 1;
      if (end === 0) return null;
      if (depth === 0) start = at;
      if (html.charCodeAt(end - 2) !== 47) depth += closing ? -1 : 1;  // not "<…/>"
      if (depth < 0) return found;
      if (depth === 0) found.push([start, end]);
      at = end - 1;
    }
    return null;
  }
  function isBase(html, child) { return html.startsWith(BASE_START, child[0]); }

  // mathlayout.fit_display.
  function fitDisplay(html) {
    var start = html.indexOf(HTML_START);
    if (start < 0) return html;
    var inner = start + HTML_START.length;
    var kids = children(html, inner);
    if (kids === null) return html;
    var count = 0;  // the katex-base children, which must come first
    while (count < kids.length && isBase(html, kids[count])) count++;
    if (count === 0 || kids.slice(count).some(function (kid) { return isBase(html, kid); })) return html;
    var parts = [[]], gaps = [];
    ANY_QUAD.lastIndex = inner;
    var cut = ANY_QUAD.test(html);  // else nothing to cut (most displays): every base in one part
    for (var i = 0; i < count; i++) {
      var base = html.slice(kids[i][0], kids[i][1]);
      (cut ? splitAtQuads(base) : [base]).forEach(function (item) {
        var last = parts[parts.length - 1];
        if (item.charAt(0) === "<") last.push(item);
        else if (last.length) { parts.push([]); gaps.push(item); }
        else if (gaps.length) gaps[gaps.length - 1] = wider(gaps[gaps.length - 1], item);
      });
    }
    if (!parts[parts.length - 1].length && gaps.length) { parts.pop(); gaps.pop(); }
    var lines = '<span class="math-part">' + parts[0].join("") + "</span>";
    gaps.forEach(function (gap, index) {
      lines += '<span class="math-part" style="--quad:' + gap + '">' + parts[index + 1].join("") + "</span>";
    });
    var end = kids[count - 1][1];
    return html.slice(0, inner) + '<span class="math-lines">' + lines + "</span>" + html.slice(end);
  }
  // mathlayout._split_at_quads.
  function splitAtQuads(base) {
    if (!Object.keys(QUADS).some(function (quad) { return base.indexOf(quad) >= 0; })) return [base];
    var kids = children(base, BASE_START.length);
    STRUT.lastIndex = BASE_START.length;
    var strut = STRUT.exec(base);
    if (kids === null || strut === null) return [base];
    strut = strut[0];
    var items = [], current = [];
    function notStrut(element) { return element !== strut; }
    kids.forEach(function (kid) {
      var element = base.slice(kid[0], kid[1]);
      if (!Object.prototype.hasOwnProperty.call(QUADS, element)) { current.push(element); return; }
      if (current.some(notStrut)) items.push(BASE_START + current.join("") + "</span>");
      items.push(QUADS[element]);
      current = [strut];
    });
    if (current.some(notStrut) || !items.length) items.push(BASE_START + current.join("") + "</span>");
    return items;
  }
  function wider(first, second) { return parseFloat(second) > parseFloat(first) ? second : first; }

  // mathlayout.may_scroll; lengths in code points, as Python counts them.
  function mayScroll(html) {
    var start = html.indexOf(HTML_START);
    if (start < 0) return false;
    var at = html.indexOf(BASE_START, start);
    while (at >= 0) {
      var from = at + BASE_START.length;
      at = html.indexOf(BASE_START, from);
      if (longPiece(html, from, at < 0 ? html.length : at)) return true;
    }
    return false;
  }
  // Whether html[from:to] shows MAY_SCROLL characters: what is left without its markup,
  // entities counted one, zero-width spaces none, and spaces at either end none.
  function longPiece(html, from, to) {
    var shown = 0, upToLast = 0;  // characters; those up to the last that is not a space
    for (var i = from; i < to; i++) {
      var unit = html.charCodeAt(i);
      if (unit === 60) {  // "<": markup up to the next ">" of the piece, if there is one
        var end = html.indexOf(">", i);
        if (end >= 0 && end < to) { i = end; continue; }
      } else if (unit === 38) {  // "&": the exact way, as an entity may be cut by markup
        return exactLength(html.slice(from, to)) >= MAY_SCROLL;
      } else if (unit === 0x200b) {
        continue;
      } else if ((unit & 0xfc00) === 0xd800 && i + 1 < to && (html.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        i++;  // one character in two units
      }
      var space = isSpace(html.charCodeAt(i));
      if (shown === 0 && upToLast === 0 && space) continue;  // leading
      shown++;
      if (!space) upToLast = shown;
      if (upToLast >= MAY_SCROLL) return true;
    }
    return false;
  }
  // len(_ENTITY.sub("x", _MARKUP.sub("", piece)).replace("\u200b", "").strip()) in Python
  function exactLength(piece) {
    var text = piece.replace(MARKUP, "").replace(ENTITY, "x").replace(/\u200b/g, "");
    var from = 0, to = text.length;
    while (from < to && isSpace(text.charCodeAt(from))) from++;
    while (to > from && isSpace(text.charCodeAt(to - 1))) to--;
    var count = to - from;
    for (var i = from; i < to - 1; i++) {
      var unit = text.charCodeAt(i);
      if (unit >= 0xd800 && unit < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { count--; i++; }
    }
    return count;
  }

  // Where mathlayout.hold_last_piece would wrap: [start, end] of the last piece in UTF-8
  // bytes back from the end of the HTML (Python holds it as UTF-8, and whatever it changes
  // ahead of the piece, the MathML annotation, does not move it), or null.
  function lastPiece(html) {
    var start = html.indexOf(HTML_START);
    if (start < 0) return null;
    var kids = children(html, start + HTML_START.length);
    if (!kids || !kids.length || !isBase(html, kids[kids.length - 1])) return null;
    var last = kids[kids.length - 1];
    var after = utf8Length(html, last[1], html.length);
    return [after + utf8Length(html, last[0], last[1]), after];
  }
  function utf8Length(text, from, to) {
    var bytes = to - from;
    WIDE.lastIndex = from;  // KaTeX's HTML is nearly all ASCII: the regex jumps to the rest
    for (var wide = WIDE.exec(text); wide !== null && wide.index < to; wide = WIDE.exec(text)) {
      var unit = text.charCodeAt(wide.index);
      bytes += unit < 0x800 || (unit >= 0xd800 && unit < 0xe000) ? 1 : 2;
    }
    return bytes;
  }

  // A formula's HTML laid out (a display fitted) and its facts, three numbers as
  // katex._laid_out reads them: 1 + 2 if it may scroll + 4 if fitted; the last piece's
  // place (an inline formula) or -1, -1.
  var layout = function (html, display) {
    if (display) {
      var fitted = fitDisplay(html);
      return {html: fitted, facts: [1 + (mayScroll(fitted) ? 2 : 0) + 4, -1, -1]};
    }
    var piece = lastPiece(html) || [-1, -1];
    return {html: html, facts: [1 + (mayScroll(html) ? 2 : 0), piece[0], piece[1]]};
  };
  layout.isSpace = isSpace;  // for tests/test_layout_glue.py
  return layout;
})();
"""
for _name, _value in {
    "__HTML_START__": _HTML_START,
    "__BASE_START__": _BASE_START,
    "__QUADS__": _QUADS,
    "__MAY_SCROLL__": MAY_SCROLL_CHARACTERS,
}.items():
    LAYOUT_SCRIPT = LAYOUT_SCRIPT.replace(_name, json.dumps(_value))
