// The engine's physical limit: every formula of a corpus typeset once with KaTeX, in one
// Node thread, with the options notes-render uses (htmlAndMathml, one macros object per
// note so definitions carry over, as in a build). Input: the JSON file bench/run.py
// writes, a list of notes, each a list of [tex, displayMode].
//
//     node bench/raw_loop.js formulas.json
"use strict";
const fs = require("fs");
const path = require("path");
const katex = require(path.join(__dirname, "..", "node_modules", "katex"));

const notes = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let formulas = 0;
let bytes = 0;
for (const note of notes) {
  const macros = {};
  for (const [tex, displayMode] of note) {
    try {
      bytes += katex.renderToString(tex, {
        displayMode, output: "htmlAndMathml", throwOnError: true, macros, globalGroup: true,
      }).length;
    } catch (e) {
      if (!(e instanceof katex.ParseError)) throw e;
    }
    formulas += 1;
  }
}
console.log(`${formulas} formulas, ${bytes} bytes of HTML`);
