// The fastest peer a user could pick instead of notes-render: markdown-it 15 with
// markdown-it-texmath and the same pinned KaTeX, in Node, no cache, no numbering, errors
// left in the page as texmath leaves them. It reads every .md under SRC, typesets $…$
// inline and $$…$$ display math with our KaTeX options (htmlAndMathml, throwOnError, one
// macros object per note with globalGroup, so definitions carry over as in a build), wraps
// each body in an HTML page, writes it to OUT (note.md -> note.html, folders kept) and
// copies KaTeX's stylesheet and fonts beside it, as a site needs them.
//
//     node bench/peer_pipeline.js SRC OUT [--workers N]
//
// With --workers N (N > 1) the notes are shared out, biggest first, to N worker threads,
// each with its own V8 isolate and KaTeX, one note at a time as each gets free; without it
// everything runs in this one thread. bench/run.py times it as a whole process.
"use strict";
const fs = require("fs");
const path = require("path");
const { Worker, isMainThread, parentPort, workerData } = require("worker_threads");

const MODULES = path.join(__dirname, "..", "node_modules");

function usage(message) {
  process.stderr.write(`${message}\nusage: node bench/peer_pipeline.js SRC OUT [--workers N]\n`);
  process.exit(2);
}

function parseArguments(argv) {
  const positional = [];
  let workers = 1;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--workers") {
      workers = Number(argv[i + 1]);
      i += 1;
      if (!Number.isInteger(workers) || workers < 1) usage("--workers takes a whole number >= 1");
    } else {
      positional.push(argv[i]);
    }
  }
  if (positional.length !== 2) usage("expected SRC and OUT");
  return { src: path.resolve(positional[0]), out: path.resolve(positional[1]), workers };
}

// Every .md file under root, as paths relative to it, hidden files and folders left out.
function findNotes(root) {
  const found = [];
  const walk = (folder) => {
    const entries = fs.readdirSync(folder, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith(".md")) found.push(path.relative(root, full));
    }
  };
  walk(root);
  return found;
}

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// A renderer of notes: one markdown-it with texmath, and the KaTeX options texmath passes
// to every formula; `macros` is replaced before each note so each starts afresh.
function makeRenderer() {
  const katex = require(path.join(MODULES, "katex"));
  const markdownit = require(path.join(MODULES, "markdown-it"));
  const texmath = require(path.join(MODULES, "markdown-it-texmath"));
  const katexOptions = { output: "htmlAndMathml", throwOnError: true, globalGroup: true, macros: {} };
  const md = markdownit({ html: true });
  md.use(texmath, { engine: katex, delimiters: "dollars", katexOptions });

  return function renderNote(src, out, rel) {
    const text = fs.readFileSync(path.join(src, rel), "utf8");
    katexOptions.macros = {};
    const tokens = md.parse(text, {});
    const body = md.renderer.render(tokens, md.options, {});
    const heading = tokens.findIndex((token) => token.type === "heading_open");
    const title = heading >= 0 ? tokens[heading + 1].content : path.basename(rel, ".md");
    const depth = rel.split(path.sep).length - 1;
    const root = "../".repeat(depth);
    const page =
      `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
      `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
      `<title>${escapeHtml(title)}</title>\n` +
      `<link rel="stylesheet" href="${root}katex/katex.min.css">\n</head>\n<body>\n<main>\n` +
      `${body}</main>\n</body>\n</html>\n`;
    const target = path.join(out, rel.slice(0, -".md".length) + ".html");
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, page);
    return Buffer.byteLength(page);
  };
}

// KaTeX's stylesheet and every font file it names, under OUT/katex/.
function copyKatexAssets(out) {
  const dist = path.join(MODULES, "katex", "dist");
  const css = fs.readFileSync(path.join(dist, "katex.min.css"), "utf8");
  const fonts = new Set([...css.matchAll(/url\((fonts\/[^)]+)\)/g)].map((match) => match[1]));
  fs.mkdirSync(path.join(out, "katex", "fonts"), { recursive: true });
  for (const name of ["katex.min.css", ...fonts]) {
    fs.copyFileSync(path.join(dist, name), path.join(out, "katex", name));
  }
}

function report(notes, bytes) {
  console.log(`${notes} pages, ${bytes} bytes of HTML written`);
}

function runInOneThread({ src, out }, notes) {
  const renderNote = makeRenderer();
  let bytes = 0;
  for (const rel of notes) bytes += renderNote(src, out, rel);
  copyKatexAssets(out);
  report(notes.length, bytes);
}

function runInWorkers({ src, out, workers }, notes) {
  const sizes = new Map(notes.map((rel) => [rel, fs.statSync(path.join(src, rel)).size]));
  const queue = [...notes].sort((a, b) => sizes.get(b) - sizes.get(a));
  let bytes = 0;
  let running = 0;
  for (let i = 0; i < Math.min(workers, queue.length); i += 1) {
    const worker = new Worker(__filename, { workerData: { src, out } });
    running += 1;
    const next = () => worker.postMessage(queue.length ? queue.shift() : null);
    worker.on("message", (written) => {
      bytes += written;
      next();
    });
    worker.on("error", (error) => {
      process.stderr.write(`worker failed: ${error.stack || error}\n`);
      process.exit(1);
    });
    worker.on("exit", () => {
      running -= 1;
      if (running === 0) report(notes.length, bytes);
    });
    next();
  }
  copyKatexAssets(out);
  if (queue.length === 0 && running === 0) report(0, 0);
}

if (isMainThread) {
  const options = parseArguments(process.argv.slice(2));
  const notes = findNotes(options.src);
  fs.mkdirSync(options.out, { recursive: true });
  if (options.workers > 1) runInWorkers(options, notes);
  else runInOneThread(options, notes);
} else {
  const renderNote = makeRenderer();
  parentPort.on("message", (rel) => {
    if (rel === null) parentPort.close();
    else parentPort.postMessage(renderNote(workerData.src, workerData.out, rel));
  });
}
