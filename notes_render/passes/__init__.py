"""Pure passes over a parsed note's tokens: math, headings, links, numbering, references, citations."""
