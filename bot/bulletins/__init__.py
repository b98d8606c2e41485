"""Bulletins (bản tin): files admins write, their delivery to subscribers, quiet hours and the
`serve` task that sends scheduled ones."""
