# Bitwise builtins for permission masks.
# entrypoints: mask, has_write, flags
# input: {"perms": {"$array": ["read", "write", "delete", "admin"], "len": "0..4"}, "check": "int:0..15"}
package corpus.p122

bit := {"read": 1, "write": 2, "delete": 4, "admin": 8}

mask := sum({bit[p] | some p in input.perms})

has_write if bits.and(mask, 2) != 0

flags := {"and": bits.and(mask, input.check), "or": bits.or(mask, input.check), "xor": bits.xor(mask, input.check), "lsh": bits.lsh(mask, 1), "rsh": bits.rsh(mask, 1)}
