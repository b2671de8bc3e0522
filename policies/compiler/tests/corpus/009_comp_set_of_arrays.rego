# Set comprehension producing composite values: (role, tenant) grants.
# entrypoints: grants, grant_count
# input: {"memberships": {"$array": {"tenant": ["t1", "t2"], "roles": {"$array": ["admin", "sales", "viewer"], "len": "0..2"}}, "len": "0..3"}}
package corpus.p009

grants := {[r, m.tenant] | some m in input.memberships; some r in m.roles}

grant_count := count(grants)
