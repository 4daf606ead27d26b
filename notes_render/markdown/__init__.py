"""Markdown to tokens: the parser, its plugins (math, figures, divs, citations) and highlighting."""
