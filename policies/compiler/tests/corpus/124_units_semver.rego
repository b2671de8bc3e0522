# units.parse_bytes / units.parse and semver comparisons (client version gates).
# entrypoints: bytes, quota_ok, client_ok, cmp, qty
# input: {"size": ["10MB", "1.5GiB", "512", "12kb", "huge"], "version": ["1.2.3", "2.0.0", "1.10.0", "0.9.9", "1.2", "v1.0.0"], "qty": ["2k", "1.5M", "10", "x"]}
package corpus.p124

bytes := units.parse_bytes(input.size)

quota_ok if bytes <= 100 * 1000 * 1000

client_ok if {
	semver.is_valid(input.version)
	semver.compare(input.version, "1.2.0") >= 0
}

cmp := semver.compare(input.version, "1.10.0")

qty := units.parse(input.qty)
