"""The Admin API (Karafka's ``Karafka::Admin``): what the cluster says about itself and what can be
changed in it. Used by commands, the admin pages and the server; imports nothing from the web side."""
