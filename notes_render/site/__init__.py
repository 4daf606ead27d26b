"""The site around the notes: navigation, templates, the output folder and the checker."""
