"""SweetDream's four Flask services and the kit they share."""
