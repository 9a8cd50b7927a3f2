"""The network layer: wire frames, compression, TLS, the handshake and connections.

``wire`` and ``compression`` are pure functions over bytes; ``handshake`` builds the
first command and checks its reply; ``responses`` maps ``ok: 0`` replies to errors;
``tls`` builds the SSLContext; ``settings`` holds what a connection needs from the
client's options; ``connection`` owns one socket and uses all of them plus
``driver.auth``.
"""
