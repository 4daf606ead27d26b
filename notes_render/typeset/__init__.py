"""Math typesetting: TeX prepared for KaTeX, the engine, its cache, and the fitting of its output."""
