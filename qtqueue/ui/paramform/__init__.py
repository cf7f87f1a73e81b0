"""The params form: editors behind an open registry (`editors`) and the form (`form`)."""
