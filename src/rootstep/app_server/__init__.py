"""The app-server: connections, method table and processors over the core."""
