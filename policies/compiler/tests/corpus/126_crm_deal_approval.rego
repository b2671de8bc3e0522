# Deal discount approval: thresholds by role, manager chain from data.
# entrypoints: decision
# input: {"user": ["u1", "u2", "u3", "u4", "u5"], "role": ["sales", "manager", "vp"], "discount": "int:0..60", "amount": "int:1000..200000", "approver?": ["u1", "u2", "u4", "u9"]}
package corpus.p126

max_discount := {"sales": 10, "manager": 25, "vp": 40}

needs_approval if input.discount > max_discount[input.role]

approver_ok if data.fixtures.managers[input.user] == input.approver

reasons contains "discount above role limit" if {
	needs_approval
	not approver_ok
}

reasons contains "large deal needs vp" if {
	input.amount > 100000
	input.role != "vp"
	not input.approver
}

decision := {"allow": count(reasons) == 0, "reasons": sort(reasons), "escalated": needs_approval}
