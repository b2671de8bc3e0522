# Array comprehension with indices: positions of overdue invoices.
# entrypoints: overdue_positions, overdue_total, all_paid
# input: {"today": "int:10..40", "invoices": {"$array": {"due": "int:0..50", "paid": "bool", "amount": "num:0..300"}, "len": "0..5"}}
package corpus.p007

overdue_positions := [i | some i, inv in input.invoices; not inv.paid; inv.due < input.today]

overdue_total := sum([input.invoices[i].amount | some i in overdue_positions])

all_paid if count([1 | some inv in input.invoices; not inv.paid]) == 0
