#!/usr/bin/python3
# tests/tools/deaf_tracker.py: a hostile tracker for
# tests/integration/net_tracker_deaf.sh. It accepts WebSocket connections on
# 127.0.0.1 (any port), completes each handshake as a tracker would, then
# never reads another byte: whatever a client sends piles up in the client.
# Its receive buffer is made as small as the kernel allows, so the socket
# takes in almost nothing either.
#
#   deaf_tracker.py PORTFILE
#
# Writes its port to PORTFILE, then a line "connection N" to stdout for each
# connection accepted (flushed at once). Runs until killed.
import base64
import hashlib
import socket
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
# Set before listen(): accepted sockets inherit it, and the window the
# client sees is bounded from the first segment.
listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
with open(sys.argv[1], "w") as f:
	f.write(f"{listener.getsockname()[1]}\n")

held = []
count = 0
while True:
	conn, _ = listener.accept()
	request = b""
	while b"\r\n\r\n" not in request and len(request) < 16384:
		part = conn.recv(4096)
		if not part:
			break
		request += part
	key = None
	for line in request.split(b"\r\n"):
		name, _, value = line.partition(b":")
		if name.strip().lower() == b"sec-websocket-key":
			key = value.strip()
	if key is None:
		conn.close()
		continue
	accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
	conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
	held.append(conn)  # kept open, never read again
	count += 1
	print(f"connection {count}", flush=True)
