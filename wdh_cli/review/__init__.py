"""The review round trip: failed requests out to a spreadsheet, a person's decisions back in.

`sheet` writes and reads the file, `repository` holds the review's reads,
`service` is `wdh review export | apply`. See docs/lifecycle.md.
"""
