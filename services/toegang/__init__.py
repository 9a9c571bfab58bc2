"""Access: who may publish and read what (DOMAIN.md, Privacy and access).

- `tokens`: bearer JWTs from the region's identity provider, verified against its key set;
  the local signing key and `maak_token` of the embedded default.
- `rollen`: the roles of a token and, as pure functions, what each may read.
- `nats_accounts`: the nats-server users and permissions, and their credentials.

Nothing here imports the HTTP framework or opens a connection at import time; the HTTP layer
and the CLI wire it in.
"""
