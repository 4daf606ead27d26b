"""Live preview: build into a temporary folder, serve it, rebuild on save, reload the page."""
