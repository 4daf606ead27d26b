"""The build: which notes changed, building them (here or in workers), and the state between builds."""
