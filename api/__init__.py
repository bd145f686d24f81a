"""The HTTP API: one router per user group, bearer-token auth, request/response schemas."""
