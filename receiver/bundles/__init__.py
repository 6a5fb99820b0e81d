"""Signed policy bundles: the format, building, safe reading and, for the service,
fetching and polling (``receiver bundle``, ``receiver serve --policies URL``).

Stage: the edge (policy delivery), between the policy stages it packages (load, check)
and the service that polls for it (``receiver.http``). The format, build, verify and
keys modules import no HTTP client, so ``receiver bundle`` stays a light command.
"""
