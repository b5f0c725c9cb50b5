"""SIA DC-09 forwarding to a monitoring centre: sans-I/O codec, transmitter, TCP/UDP sender."""
