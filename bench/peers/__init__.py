"""The peers the product is measured against: the Channels tutorial's consumer, and a raw
`websockets` broadcast server."""
