"""Local stand-ins for outside services, for demos and tests: nothing here is used in production.

`notify_server` is a GOV.UK Notify-compatible server on 127.0.0.1 (JWT checked as Notify
checks it, texts and precompiled letters, the list by reference, callbacks with a bearer
token, faults on demand), driven by Notify's official client: `nudge demo --provider notify`
sends to it, and the tests use it (tests/fakes/notify_server.py re-exports it). It imports no
domain package. `common` holds what it shares with the fake Twilio (tests/fakes/twilio_server.py):
faults on demand, the quiet threaded server, the thread posting callbacks in order.
"""
